import { didYouMean } from '../src/core/names.js'
import { benches } from './registry.js'

// Usage: node dist/bench/main.js [name...]   (no name: run them all)
const known = Object.keys(benches)
const wanted = process.argv.slice(2)
for (const name of wanted) {
  if (!Object.hasOwn(benches, name)) {
    const guess = didYouMean(name, known)
    console.error(
      `unknown benchmark ${JSON.stringify(name)}${guess === undefined ? '' : ` (did you mean ${JSON.stringify(guess)}?)`}`,
    )
    console.error(`known benchmarks: ${known.join(', ')}`)
    process.exit(2)
  }
}
for (const name of wanted.length > 0 ? wanted : known) {
  const bench = benches[name]
  if (bench === undefined) continue
  console.log(`\n== bench ${name}`)
  await bench()
}
