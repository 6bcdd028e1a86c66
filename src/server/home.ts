import type { PipelineSummary } from './model-routes.js'

export interface DatasetSummary {
  name: string
  batches: number
  rows: number
  states: Record<string, number>
  schemaVersion: number | null
  lastIngestedAt: string | null
}

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const metric = (m: Record<string, unknown> | null, name: string): string => (typeof m?.[name] === 'number' ? m[name].toFixed(3) : '-')

/**
 * The status summary: what data and models Freshet holds, with links to the JSON API. Server-rendered, no scripts.
 * The dashboard's index.html carries it inside `<noscript>`, for a browser without JavaScript.
 */
export function renderHomeMain(datasets: readonly DatasetSummary[], pipelines: readonly PipelineSummary[]): string {
  const models = pipelines
    .map(
      (p) => `<tr><th scope="row"><a href="/api/v1/models/${encodeURIComponent(p.name)}/versions">${escape(p.name)}</a></th><td>${escape(p.dataset)}</td><td>${escape(p.mode)}</td><td>${p.production === null ? 'none yet' : `v${p.production}`}</td><td>${p.task === 'binary' ? `AUC ${metric(p.metrics, 'auc')}, F1 ${metric(p.metrics, 'f1')}` : `RMSE ${metric(p.metrics, 'rmse')}`}</td><td>${p.versions}</td><td>${escape(p.lastTrainedAt?.slice(0, 19).replace('T', ' ') ?? '-')}</td></tr>`,
    )
    .join('\n')
  const rows = datasets
    .map(
      (d) => `<tr><th scope="row"><a href="/api/v1/datasets/${encodeURIComponent(d.name)}">${escape(d.name)}</a></th><td>${d.batches}</td><td>${d.rows.toLocaleString('en-US')}</td><td>${escape(
        Object.entries(d.states)
          .map(([s, n]) => `${n} ${s}`)
          .join(', ') || '-',
      )}</td><td>${d.schemaVersion === null ? '-' : `v${d.schemaVersion}`}</td><td>${escape(d.lastIngestedAt?.slice(0, 19).replace('T', ' ') ?? '-')}</td></tr>`,
    )
    .join('\n')
  return `<main>
<h1>Freshet</h1>
<p>Datasets in this workspace. Data comes in with <code>freshet ingest &lt;dataset&gt; &lt;file…&gt;</code>; the JSON API is under <a href="/api/v1/datasets">/api/v1/datasets</a>.</p>
<table class="datasets" aria-label="Datasets"><thead><tr><th scope="col">Dataset</th><th scope="col">Batches</th><th scope="col">Rows</th><th scope="col">States</th><th scope="col">Schema</th><th scope="col">Last ingest</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="6">No datasets are declared in freshet.config.ts.</td></tr>'}
</tbody></table>
<h2>Models</h2>
<p>Each pipeline's production model answers <code>POST /v1/models/&lt;pipeline&gt;:predict</code> with <code>{"instances": [...]}</code>.</p>
<table aria-label="Models"><thead><tr><th scope="col">Pipeline</th><th scope="col">Dataset</th><th scope="col">Mode</th><th scope="col">Production</th><th scope="col">Holdout quality</th><th scope="col">Versions</th><th scope="col">Last trained</th></tr></thead>
<tbody>
${models || '<tr><td colspan="7">No pipelines are declared in freshet.config.ts.</td></tr>'}
</tbody></table>
</main>`
}

/** The status page at `/` when the dashboard is not built (no dist/web): {@link renderHomeMain} as a whole page. */
export function renderHome(datasets: readonly DatasetSummary[], pipelines: readonly PipelineSummary[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Freshet</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b2430}
h1{font-size:1.4rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:2rem}p{color:#4a5568}table{border-collapse:collapse;width:100%;margin-top:1rem}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e2e8f0}thead th{font-size:.8rem;text-transform:uppercase;color:#64748b}
table.datasets td:nth-child(2),table.datasets td:nth-child(3){text-align:right;font-variant-numeric:tabular-nums}a{color:#0b63c5}code{background:#f1f5f9;padding:.1rem .3rem;border-radius:3px}
</style></head><body>
${renderHomeMain(datasets, pipelines)}</body></html>
`
}
