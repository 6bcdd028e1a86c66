import { EventEmitter } from 'node:events'
import type { RunEvent } from './run-types.js'

/**
 * In-process publication of run events, one EventEmitter per run with listeners, plus two signals for the
 * workers of this process: a run was enqueued (claim now instead of at the next poll) and a run's cancellation
 * was requested (kill its trainer now instead of at the next heartbeat).
 *
 * Only listeners in the process that works on the run hear its events live; every event is also stored, so
 * other processes read them from the database (see `followRun`).
 */
export class RunEventBus {
  private readonly perRun = new Map<string, EventEmitter>()
  private readonly signals = new EventEmitter().setMaxListeners(0)

  publish(event: RunEvent): void {
    this.perRun.get(event.runId)?.emit('event', event)
  }

  /** Calls `listener` with each event of the run published from now on; returns the unsubscribe function. */
  subscribe(runId: string, listener: (event: RunEvent) => void): () => void {
    let emitter = this.perRun.get(runId)
    if (emitter === undefined) {
      emitter = new EventEmitter().setMaxListeners(0)
      this.perRun.set(runId, emitter)
    }
    emitter.on('event', listener)
    const own = emitter
    return () => {
      own.off('event', listener)
      if (own.listenerCount('event') === 0 && this.perRun.get(runId) === own) this.perRun.delete(runId)
    }
  }

  /** Runs with at least one listener (for tests and diagnostics). */
  get listenedRuns(): number {
    return this.perRun.size
  }

  enqueued(runId: string): void {
    this.signals.emit('enqueued', runId)
  }

  onEnqueued(listener: (runId: string) => void): () => void {
    this.signals.on('enqueued', listener)
    return () => this.signals.off('enqueued', listener)
  }

  cancelRequested(runId: string): void {
    this.signals.emit('cancel', runId)
  }

  onCancelRequested(runId: string, listener: () => void): () => void {
    const filtered = (id: string) => {
      if (id === runId) listener()
    }
    this.signals.on('cancel', filtered)
    return () => this.signals.off('cancel', filtered)
  }
}
