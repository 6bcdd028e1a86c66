#!/usr/bin/env node
import { Command, CommanderError } from 'commander'
import { isFreshetError } from '../core/errors.js'
import { registerData } from './commands/data.js'
import { registerDemo } from './commands/demo.js'
import { registerDeploy } from './commands/deploy.js'
import { registerInit } from './commands/init.js'
import { registerIngest } from './commands/ingest.js'
import { registerModels } from './commands/models.js'
import { registerMonitor } from './commands/monitor.js'
import { registerPredict } from './commands/predict.js'
import { registerPublish } from './commands/publish.js'
import { registerQuarantine } from './commands/quarantine.js'
import { registerRollback } from './commands/rollback.js'
import { registerRuns } from './commands/runs.js'
import { registerTrain } from './commands/train.js'
import { registerUp } from './commands/up.js'
import { registerWorker } from './commands/worker.js'
import { version } from '../core/package-root.js'

const program = new Command()
program
  .name('freshet')
  .description('Continuous training for TypeScript teams: keep machine-learned models fresh in production.')
  .version(version)
  .option('-w, --workspace <dir>', 'workspace folder holding freshet.config.ts (default: the current folder)')
  .showHelpAfterError('(run `freshet --help` for usage)')
  .exitOverride()

registerInit(program)
registerIngest(program)
registerData(program)
registerQuarantine(program)
registerTrain(program)
registerRuns(program)
registerModels(program)
registerMonitor(program)
registerDeploy(program)
registerRollback(program)
registerPredict(program)
registerPublish(program)
registerUp(program)
registerWorker(program)
registerDemo(program)

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2
  } else if (isFreshetError(error)) {
    process.stderr.write(`error: ${error.describe()}\n`)
    process.exitCode = error.exitCode
  } else {
    process.stderr.write(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  }
}
