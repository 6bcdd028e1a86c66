/**
 * Every error Freshet raises on purpose is a {@link FreshetError} with a stable `code`. Callers compare by code,
 * never by message. One table ({@link errorCatalog}) maps each code to an HTTP status and a CLI exit code.
 */
export const errorCatalog = {
  USAGE: { http: 400, exit: 2 },
  CONFIG_NOT_FOUND: { http: 500, exit: 2 },
  CONFIG_INVALID: { http: 500, exit: 2 },
  DATASET_NOT_FOUND: { http: 404, exit: 1 },
  BATCH_NOT_FOUND: { http: 404, exit: 1 },
  BATCH_STATE: { http: 409, exit: 1 },
  FILE_NOT_FOUND: { http: 404, exit: 1 },
  INVALID_KEY: { http: 400, exit: 1 },
  BLOB_NOT_FOUND: { http: 404, exit: 1 },
  INTEGRITY_MISMATCH: { http: 500, exit: 1 },
  INPUT_EMPTY: { http: 400, exit: 1 },
  INPUT_BINARY: { http: 400, exit: 1 },
  INPUT_TOO_LARGE: { http: 413, exit: 1 },
  INPUT_UNSUPPORTED: { http: 415, exit: 1 },
  INPUT_MALFORMED: { http: 400, exit: 1 },
  SCHEMA_CONFLICT: { http: 409, exit: 1 },
  PIPELINE_NOT_FOUND: { http: 404, exit: 1 },
  MODEL_NOT_FOUND: { http: 404, exit: 1 },
  ALIAS_CONFLICT: { http: 409, exit: 1 },
  MODEL_REJECTED: { http: 409, exit: 1 },
  TRAINING_FAILED: { http: 500, exit: 1 },
  NO_TRAINING_DATA: { http: 409, exit: 1 },
  INVALID_INSTANCE: { http: 400, exit: 1 },
  EXAMPLE_DATA_MISSING: { http: 500, exit: 1 },
  WORKSPACE_EXISTS: { http: 409, exit: 1 },
  ABORTED: { http: 499, exit: 1 },
  JOB_NOT_FOUND: { http: 404, exit: 1 },
  LEASE_LOST: { http: 409, exit: 1 },
  RUN_NOT_FOUND: { http: 404, exit: 1 },
  OVERLOADED: { http: 429, exit: 1 },
  INTERNAL: { http: 500, exit: 1 },
  PREDICTION_NOT_FOUND: { http: 404, exit: 1 },
  FEEDBACK_CONFLICT: { http: 409, exit: 1 },
  FEEDBACK_TOO_LATE: { http: 422, exit: 1 },
  CANARY_CONFLICT: { http: 409, exit: 1 },
  CANARY_NOT_FOUND: { http: 404, exit: 1 },
  BACKEND_UNAVAILABLE: { http: 503, exit: 1 },
  TOPIC_NOT_FOUND: { http: 404, exit: 1 },
  OFFSET_CONFLICT: { http: 409, exit: 1 },
} as const satisfies Record<string, { http: number; exit: number }>

export type ErrorCode = keyof typeof errorCatalog

export interface FreshetErrorOptions {
  cause?: unknown
  /** Where the problem is: a file, a config path, a row/line/column. */
  file?: string
  line?: number
  column?: string | number
  /** What the user can do about it. */
  hint?: string
}

export class FreshetError extends Error {
  override readonly name = 'FreshetError'
  readonly code: ErrorCode
  readonly file: string | undefined
  readonly line: number | undefined
  readonly column: string | number | undefined
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, options: FreshetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.file = options.file
    this.line = options.line
    this.column = options.column
    this.hint = options.hint
  }

  get httpStatus(): number {
    return errorCatalog[this.code].http
  }

  get exitCode(): number {
    return errorCatalog[this.code].exit
  }

  /** The message with the hint, as printed by the CLI. */
  describe(): string {
    return this.hint === undefined ? this.message : `${this.message}\n  hint: ${this.hint}`
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.file === undefined ? {} : { file: this.file }),
      ...(this.line === undefined ? {} : { line: this.line }),
      ...(this.column === undefined ? {} : { column: this.column }),
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    }
  }
}

export function isFreshetError(error: unknown, code?: ErrorCode): error is FreshetError {
  return error instanceof FreshetError && (code === undefined || error.code === code)
}

/** Node's `ENOENT` and friends, without `any`. */
export function errnoCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code
  return undefined
}
