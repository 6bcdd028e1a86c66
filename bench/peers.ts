import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * A file that lives beside the benchmark sources and is not compiled (`setup-peers.sh`, `train-sgd.py`): found from
 * `dist/bench/` (the compiled benchmark) or from `bench/` itself.
 */
export function benchSourceFile(name: string): string {
  for (const relative of [`../../bench/${name}`, `./${name}`]) {
    const file = fileURLToPath(new URL(relative, import.meta.url))
    if (existsSync(file)) return file
  }
  throw new Error(`bench/${name} is missing`)
}

/**
 * Runs `bench/setup-peers.sh <kind>`, which installs missing peers with apt-get. A failure is reported, not
 * thrown: each benchmark then checks its peers one by one and skips those still missing.
 */
export async function setupPeers(kind: 'train' | 'serve'): Promise<void> {
  const child = spawn('sh', [benchSourceFile('setup-peers.sh'), kind], {
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  if (code !== 0) console.log(`  setup-peers.sh ${kind} failed (exit ${code}); missing peers will be skipped`)
}

/** The absolute path of the first of `names` on PATH, or undefined. */
export function which(...names: string[]): string | undefined {
  for (const name of names) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' })
    const file = found.stdout.trim()
    if (found.status === 0 && file.startsWith('/')) return file
  }
  return undefined
}

/** liblinear's command-line tools: Debian names them liblinear-train/-predict, a source build train/predict. */
export function findLiblinear(): { train: string; predict: string } | undefined {
  const train = which('liblinear-train')
  const predict = which('liblinear-predict')
  if (train !== undefined && predict !== undefined) return { train, predict }
  // A bare `train` may be anything: accept it only when its usage text is liblinear's.
  const bareTrain = which('train')
  const barePredict = which('predict')
  if (bareTrain === undefined || barePredict === undefined) return undefined
  const usage = spawnSync(bareTrain, [], { encoding: 'utf8' })
  return /logistic regression \(primal\)/.test(`${usage.stdout}${usage.stderr}`)
    ? { train: bareTrain, predict: barePredict }
    : undefined
}

/** True when the system Python (where Debian's python3-sklearn installs) imports scikit-learn. */
export function hasSklearn(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import sklearn'], { stdio: 'ignore' }).status === 0
}
