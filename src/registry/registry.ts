import { createHash, randomUUID } from 'node:crypto'
import { sql, type Selectable } from 'kysely'
import { FreshetError } from '../core/errors.js'
import type { BlobStore } from '../storage/blobs/blob-store.js'
import type { AliasHistoryTable, MetadataDb, ModelVersionTable } from '../storage/metadata/database.js'
import { lockForWrite, withWriteLock } from '../storage/metadata/write-locks.js'

export type ModelStatus = 'registered' | 'rejected'

/** One registered model version: immutable once written. */
export interface ModelVersion {
  readonly pipeline: string
  readonly version: number
  readonly status: ModelStatus
  readonly task: string
  readonly trainer: string
  readonly manifestKey: string
  readonly manifestSha256: string
  readonly weightsKey: string
  readonly weightsSha256: string
  readonly sizeBytes: number
  readonly metrics: Record<string, unknown>
  readonly lineage: Record<string, unknown>
  readonly createdAt: string
}

export interface AliasMove {
  readonly pipeline: string
  readonly alias: string
  readonly fromVersion: number | null
  readonly toVersion: number | null
  readonly actor: string
  readonly reason: string
  readonly at: string
}

/** What registering needs: the artifact's two parts (data only) and what to record about them. */
export interface NewModel {
  readonly pipeline: string
  readonly task: string
  readonly trainer: string
  /** JSON document: the fitted feature transform, trainer spec and weight shapes. */
  readonly manifest: Record<string, unknown>
  /** Binary weights (see `serializeWeights`). */
  readonly weights: Uint8Array
  readonly metrics: Record<string, unknown>
  readonly lineage: Record<string, unknown>
  readonly status?: ModelStatus
}

/** Where {@link Registry.storeArtifact} put an artifact, and its checksums. */
export interface StoredArtifact {
  readonly manifestKey: string
  readonly manifestSha256: string
  readonly weightsKey: string
  readonly weightsSha256: string
  readonly sizeBytes: number
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

function toModel(row: Selectable<ModelVersionTable>): ModelVersion {
  return {
    pipeline: row.pipeline,
    version: Number(row.version),
    status: row.status as ModelStatus,
    task: row.task,
    trainer: row.trainer,
    manifestKey: row.manifest_key,
    manifestSha256: row.manifest_sha256,
    weightsKey: row.weights_key,
    weightsSha256: row.weights_sha256,
    sizeBytes: Number(row.size_bytes),
    metrics: JSON.parse(row.metrics) as Record<string, unknown>,
    lineage: JSON.parse(row.lineage) as Record<string, unknown>,
    createdAt: row.created_at,
  }
}

/**
 * Model versions, their artifacts and aliases. Versions are numbered 1, 2, 3… per pipeline. Artifacts are data
 * only (a JSON manifest and binary weights), pinned by sha256 at registration and verified on every load.
 * Every alias move is a compare-and-swap recorded with who, when and why.
 */
export class Registry {
  constructor(
    private readonly db: MetadataDb,
    private readonly blobs: BlobStore,
  ) {}

  /**
   * Stores the artifact and records the next version number for the pipeline. With `trx`, the version is recorded
   * in that transaction (a run's lease transaction: the version exists only if the run's commit does).
   */
  async register(model: NewModel, trx?: MetadataDb): Promise<ModelVersion> {
    return this.record(model, await this.storeArtifact(model), trx)
  }

  /**
   * Writes an artifact's two parts to the blob store. Content-addressed, so writing the same bytes again, or
   * writing them for a registration that then never commits, is harmless: nothing refers to them until
   * {@link record} commits.
   */
  async storeArtifact(model: Pick<NewModel, 'pipeline' | 'manifest' | 'weights'>): Promise<StoredArtifact> {
    const manifestBytes = new TextEncoder().encode(JSON.stringify(model.manifest))
    const manifestSha256 = sha256(manifestBytes)
    const weightsSha256 = sha256(model.weights)
    const manifestKey = `models/${model.pipeline}/artifacts/${manifestSha256}/manifest.json`
    const weightsKey = `models/${model.pipeline}/artifacts/${weightsSha256}/weights.bin`
    await this.blobs.put(manifestKey, manifestBytes)
    await this.blobs.put(weightsKey, model.weights)
    return { manifestKey, manifestSha256, weightsKey, weightsSha256, sizeBytes: manifestBytes.length + model.weights.length }
  }

  /**
   * Records a version whose artifact {@link storeArtifact} wrote: one insert, in `trx` when given. Nothing else
   * is read or written, so a caller may hold its transaction's write lock for it.
   */
  async record(model: NewModel, artifact: StoredArtifact, trx?: MetadataDb): Promise<ModelVersion> {
    const row = {
      pipeline: model.pipeline,
      status: model.status ?? 'registered',
      task: model.task,
      trainer: model.trainer,
      manifest_key: artifact.manifestKey,
      manifest_sha256: artifact.manifestSha256,
      weights_key: artifact.weightsKey,
      weights_sha256: artifact.weightsSha256,
      size_bytes: artifact.sizeBytes,
      metrics: JSON.stringify(model.metrics),
      lineage: JSON.stringify(model.lineage),
      created_at: new Date().toISOString(),
    }
    // The number is taken inside the insert: one statement, so concurrent registrations (other processes
    // included) queue on the write lock instead of failing, and never share a number. PostgreSQL: on the
    // pipeline's lock (see withWriteLock).
    const inserted = await withWriteLock(trx ?? this.db, registryLock(model.pipeline), (db) =>
      db
        .insertInto('model_versions')
        .values({ ...row, version: sql<number>`(select coalesce(max(version), 0) + 1 from model_versions where pipeline = ${model.pipeline})` })
        .returning('version')
        .executeTakeFirstOrThrow(),
    )
    return toModel({ ...row, version: Number(inserted.version) })
  }

  async versions(pipeline: string): Promise<ModelVersion[]> {
    const rows = await this.db.selectFrom('model_versions').selectAll().where('pipeline', '=', pipeline).orderBy('version').execute()
    return rows.map(toModel)
  }

  /** @throws FreshetError `MODEL_NOT_FOUND` */
  async version(pipeline: string, version: number, trx?: MetadataDb): Promise<ModelVersion> {
    const row = await (trx ?? this.db).selectFrom('model_versions').selectAll().where('pipeline', '=', pipeline).where('version', '=', version).executeTakeFirst()
    if (row === undefined) {
      throw new FreshetError('MODEL_NOT_FOUND', `pipeline ${pipeline} has no model version ${version}`, { hint: `list them with \`freshet models ${pipeline}\`` })
    }
    return toModel(row)
  }

  /**
   * Reads a version's artifact and checks both parts against the sha256 recorded at registration.
   * @throws FreshetError `INTEGRITY_MISMATCH` when a byte changed since registration.
   */
  async load(pipeline: string, version: number): Promise<{ model: ModelVersion; manifest: Record<string, unknown>; weights: Uint8Array }> {
    const model = await this.version(pipeline, version)
    const manifestBytes = await this.blobs.get(model.manifestKey)
    const weights = await this.blobs.get(model.weightsKey)
    for (const [part, bytes, expected] of [
      ['manifest', manifestBytes, model.manifestSha256],
      ['weights', weights, model.weightsSha256],
    ] as const) {
      const actual = sha256(bytes)
      if (actual !== expected) {
        throw new FreshetError('INTEGRITY_MISMATCH', `model ${pipeline} v${version}: the ${part === 'weights' ? 'weights do' : 'manifest does'} not match the sha256 recorded at registration (expected ${expected.slice(0, 12)}…, found ${actual.slice(0, 12)}…); refusing to load it`, {
          hint: 'the artifact was changed or damaged in storage: restore it, or deploy another version',
        })
      }
    }
    return { model, manifest: JSON.parse(new TextDecoder().decode(manifestBytes)) as Record<string, unknown>, weights }
  }

  /** The version an alias points at, or undefined. */
  async alias(pipeline: string, alias: string, trx?: MetadataDb): Promise<number | undefined> {
    const row = await (trx ?? this.db).selectFrom('model_aliases').select('version').where('pipeline', '=', pipeline).where('alias', '=', alias).executeTakeFirst()
    return row === undefined ? undefined : Number(row.version)
  }

  async aliases(pipeline: string): Promise<Record<string, number>> {
    const rows = await this.db.selectFrom('model_aliases').select(['alias', 'version']).where('pipeline', '=', pipeline).execute()
    return Object.fromEntries(rows.map((r) => [r.alias, Number(r.version)]))
  }

  /**
   * Points `alias` at `version` if it still points at `expected` (undefined = "whatever it points at now" is not
   * allowed: callers must say what they expect, `null` meaning "no version yet"). The move is recorded.
   * With `trx`, every query runs in that transaction (which must have started with a write on SQLite).
   * @throws FreshetError `ALIAS_CONFLICT` when the alias moved in the meantime, `MODEL_NOT_FOUND`, `MODEL_REJECTED`
   * when `production` would point at a version that failed its gate and `force` is not set. Inside `trx`, these
   * are thrown before anything was written, so the caller may catch them and still commit.
   */
  async moveAlias(move: { pipeline: string; alias: string; version: number; expected: number | null; actor: string; reason: string; force?: boolean }, trx?: MetadataDb): Promise<AliasMove> {
    const target = await this.version(move.pipeline, move.version, trx)
    if (target.status === 'rejected' && move.alias === 'production' && move.force !== true) {
      throw new FreshetError('MODEL_REJECTED', `${move.pipeline} v${move.version} failed its gate and is not served; nothing was changed`, {
        hint: 'deploy it anyway only with --force and a --reason, which is recorded',
      })
    }
    const at = new Date().toISOString()
    const write = async (trx: MetadataDb): Promise<AliasMove> => {
      // PostgreSQL: before the alias row, so that moves of several aliases of a pipeline cannot wait on each other.
      await lockForWrite(trx, registryLock(move.pipeline))
      let changed: number
      if (move.expected === null) {
        const inserted = await trx
          .insertInto('model_aliases')
          .values({ pipeline: move.pipeline, alias: move.alias, version: move.version, updated_at: at })
          .onConflict((oc) => oc.columns(['pipeline', 'alias']).doNothing())
          .executeTakeFirst()
        changed = Number(inserted.numInsertedOrUpdatedRows ?? 0)
      } else {
        const updated = await trx
          .updateTable('model_aliases')
          .set({ version: move.version, updated_at: at })
          .where('pipeline', '=', move.pipeline)
          .where('alias', '=', move.alias)
          .where('version', '=', move.expected)
          .executeTakeFirst()
        changed = Number(updated.numUpdatedRows)
      }
      if (changed !== 1) {
        const current = await trx.selectFrom('model_aliases').select('version').where('pipeline', '=', move.pipeline).where('alias', '=', move.alias).executeTakeFirst()
        throw new FreshetError('ALIAS_CONFLICT', `${move.pipeline}/${move.alias} points at ${current === undefined ? 'no version' : `v${current.version}`}, not ${move.expected === null ? 'no version' : `v${move.expected}`} as expected; nothing was changed`, {
          hint: 'someone else moved it: look at `freshet models` and try again',
        })
      }
      const record = { id: randomUUID(), pipeline: move.pipeline, alias: move.alias, from_version: move.expected, to_version: move.version, actor: move.actor, reason: move.reason, at }
      await trx
        .insertInto('alias_history')
        .values({ ...record, seq: sql<number>`(select coalesce(max(seq), 0) + 1 from alias_history where pipeline = ${move.pipeline})` })
        .execute()
      return { pipeline: move.pipeline, alias: move.alias, fromVersion: move.expected, toVersion: move.version, actor: move.actor, reason: move.reason, at }
    }
    return trx === undefined ? this.db.transaction().execute(write) : write(trx)
  }

  /** Every move of the pipeline's aliases, oldest first. */
  async history(pipeline: string): Promise<AliasMove[]> {
    const rows = await this.db.selectFrom('alias_history').selectAll().where('pipeline', '=', pipeline).orderBy('seq').execute()
    return rows.map((r) => ({ pipeline: r.pipeline, alias: r.alias, fromVersion: r.from_version === null ? null : Number(r.from_version), toVersion: r.to_version === null ? null : Number(r.to_version), actor: r.actor, reason: r.reason, at: r.at }))
  }

  /**
   * The version `alias` pointed at, at time `at`, from the alias history: the last move (in the order the moves
   * were made) recorded at or before `at`. Undefined when the alias did not exist yet.
   * @example await registry.aliasAt('spam', 'production', new Date(Date.now() - 2 * 3_600_000))
   */
  async aliasAt(pipeline: string, alias: string, at: Date): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('alias_history')
      .select('to_version')
      .where('pipeline', '=', pipeline)
      .where('alias', '=', alias)
      .where('at', '<=', instant(at))
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst()
    return row === undefined || row.to_version === null ? undefined : Number(row.to_version)
  }

  /**
   * For every alias of the pipeline that pointed at a version at time `at`, the move that put it there:
   * `production` first, then the others by name.
   */
  async aliasesAt(pipeline: string, at: Date): Promise<AliasMove[]> {
    const rows = await this.db.selectFrom('alias_history').selectAll().where('pipeline', '=', pipeline).where('at', '<=', instant(at)).orderBy('seq').execute()
    const last = new Map<string, AliasMove>()
    for (const row of rows) last.set(row.alias, toMove(row))
    return [...last.values()]
      .filter((m) => m.toVersion !== null)
      .sort((a, b) => (a.alias === 'production' ? -1 : b.alias === 'production' ? 1 : a.alias.localeCompare(b.alias)))
  }

  /** The moves of one alias, oldest first. */
  async aliasHistory(pipeline: string, alias: string): Promise<AliasMove[]> {
    const rows = await this.db.selectFrom('alias_history').selectAll().where('pipeline', '=', pipeline).where('alias', '=', alias).orderBy('seq').execute()
    return rows.map(toMove)
  }
}

/** Serializes a pipeline's registrations and alias moves on PostgreSQL (both number their rows `max + 1`). */
const registryLock = (pipeline: string) => ({ key: `registry:${pipeline}` })

function toMove(r: Selectable<AliasHistoryTable>): AliasMove {
  return { pipeline: r.pipeline, alias: r.alias, fromVersion: r.from_version === null ? null : Number(r.from_version), toVersion: r.to_version === null ? null : Number(r.to_version), actor: r.actor, reason: r.reason, at: r.at }
}

/** Times are stored as `toISOString()` text, which sorts in time order, so a bound is compared in that form. */
function instant(at: Date): string {
  if (Number.isNaN(at.getTime())) throw new FreshetError('USAGE', 'expected a valid point in time, got an invalid date')
  // Past year 9999 the text gains a '+' and would sort first: any such time is after every recorded move.
  return at.getUTCFullYear() > 9999 ? '9999-12-31T23:59:59.999Z' : at.toISOString()
}
