export interface DatasetSummary {
  name: string
  batches: number
  rows: number
  states: Record<string, number>
  schemaVersion: number | null
  lastIngestedAt: string | null
}

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** The status page at `/`: what data Freshet holds, with links to the JSON API. Server-rendered, no scripts. */
export function renderHome(datasets: readonly DatasetSummary[]): string {
  const rows = datasets
    .map(
      (d) => `<tr><th scope="row"><a href="/api/v1/datasets/${encodeURIComponent(d.name)}">${escape(d.name)}</a></th><td>${d.batches}</td><td>${d.rows.toLocaleString('en-US')}</td><td>${escape(
        Object.entries(d.states)
          .map(([s, n]) => `${n} ${s}`)
          .join(', ') || '-',
      )}</td><td>${d.schemaVersion === null ? '-' : `v${d.schemaVersion}`}</td><td>${escape(d.lastIngestedAt?.slice(0, 19).replace('T', ' ') ?? '-')}</td></tr>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Freshet</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b2430}
h1{font-size:1.4rem;margin-bottom:.2rem}p{color:#4a5568}table{border-collapse:collapse;width:100%;margin-top:1rem}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e2e8f0}thead th{font-size:.8rem;text-transform:uppercase;color:#64748b}
td:nth-child(2),td:nth-child(3){text-align:right;font-variant-numeric:tabular-nums}a{color:#0b63c5}code{background:#f1f5f9;padding:.1rem .3rem;border-radius:3px}
</style></head><body>
<main>
<h1>Freshet</h1>
<p>Datasets in this workspace. Data comes in with <code>freshet ingest &lt;dataset&gt; &lt;file…&gt;</code>; the JSON API is under <a href="/api/v1/datasets">/api/v1/datasets</a>.</p>
<table aria-label="Datasets"><thead><tr><th scope="col">Dataset</th><th scope="col">Batches</th><th scope="col">Rows</th><th scope="col">States</th><th scope="col">Schema</th><th scope="col">Last ingest</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="6">No datasets are declared in freshet.config.ts.</td></tr>'}
</tbody></table>
</main></body></html>
`
}
