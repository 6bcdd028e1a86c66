import { FreshetError } from './errors.js'

const units: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }
const pattern = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)$/i

export function isSize(text: string): boolean {
  return pattern.test(text.trim())
}

/** Parses `512MB`, `2 GiB`, `100kb` (binary units) into bytes. */
export function parseSize(text: string): number {
  const match = pattern.exec(text.trim())
  if (match === null) throw new FreshetError('USAGE', `expected a size like 512MB or 2GB, got ${JSON.stringify(text)}`)
  const unit = (match[2] ?? 'b').toLowerCase().replace('i', '')
  return Math.floor(Number(match[1]) * (units[unit] ?? 1))
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const names = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let i = 0
  while (value >= 1024 && i < names.length - 1) {
    value /= 1024
    i++
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${names[i] ?? 'TiB'}`
}
