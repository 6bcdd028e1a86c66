import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import type { TrainingData } from '../trainer.js'

/**
 * Writes examples as LibSVM text (`label index:value ...`, indices 0-based and ascending, as XGBoost, liblinear and
 * most learners read it): one line per row, the hashed features the built-in trainers see. Values print as the
 * shortest decimal of their float32, so a reader parsing float32 gets the exact same numbers back.
 */
export async function writeLibsvm(file: string, data: TrainingData): Promise<void> {
  const out = createWriteStream(file, { flags: 'wx' })
  const { x, y } = data
  let buffer = ''
  for (let r = 0; r < x.rows; r++) {
    let line = String(y[r])
    for (let i = x.indptr[r] as number; i < (x.indptr[r + 1] as number); i++) line += ` ${x.indices[i]}:${x.values[i]}`
    buffer += `${line}\n`
    if (buffer.length >= 1 << 16) {
      if (!out.write(buffer)) await once(out, 'drain')
      buffer = ''
    }
  }
  out.end(buffer)
  await once(out, 'close')
}
