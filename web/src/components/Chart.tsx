import { useEffect, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export interface Series {
  label: string
  values: (number | null)[]
  color?: string
}

export interface ChartProps {
  /** Shown as the figure's caption. */
  title: string
  /** What the chart shows, in words, for screen readers. */
  summary: string
  x: number[]
  xLabel: string
  series: Series[]
  /** x values are Unix seconds. */
  time?: boolean
  kind?: 'line' | 'bars'
  height?: number
  /** Formats x values on the axis and legend. */
  formatX?: (x: number) => string
  /** x values are whole numbers (versions): ticks only at whole steps. */
  integerX?: boolean
  /** The steps the x axis may tick at (x units). */
  xIncrs?: number[]
}

const palette = ['#0b6bcb', '#c2410c', '#15803d', '#7c3aed', '#be185d', '#0e7490', '#a16207', '#4d7c0f']

/** A uPlot chart that follows its container's width. */
export function Chart({ title, summary, x, xLabel, series, time = false, kind = 'line', height = 220, formatX, integerX = false, xIncrs }: ChartProps) {
  const box = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const el = box.current
    if (el === null) return
    const bars = uPlot.paths.bars?.({ size: [0.92, 80] })
    const options: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      scales: {
        x: { time },
        // Bars start at zero; lines get a little room around their values, so a flat line sits in the middle.
        y:
          kind === 'bars'
            ? { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.05 : 1] }
            : {
                range: (_u: uPlot, min: number, max: number) => {
                  const pad = max > min ? (max - min) * 0.15 : Math.max(Math.abs(max) * 0.02, 1e-3)
                  return [min - pad, max + pad]
                },
              },
      },
      legend: { show: series.length > 1, live: false },
      cursor: { drag: { x: false, y: false } },
      axes: [
        {
          label: xLabel,
          stroke: '#475569',
          grid: { stroke: '#eef2f6' },
          ...(integerX ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : xIncrs === undefined ? {} : { incrs: xIncrs }),
          ...(formatX === undefined ? {} : { values: (_u: uPlot, ticks: number[]) => ticks.map(formatX) }),
        },
        { stroke: '#475569', grid: { stroke: '#eef2f6' }, size: 56 },
      ],
      series: [
        { label: xLabel, ...(formatX === undefined ? {} : { value: (_u: uPlot, v: number | null) => (v === null ? '–' : formatX(v)) }) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? palette[i % palette.length] ?? '#0b6bcb',
          width: kind === 'bars' ? 0 : 2,
          spanGaps: true,
          ...(kind === 'bars' && bars !== undefined
            ? { fill: `${s.color ?? palette[i % palette.length]}cc`, paths: bars, points: { show: false } }
            : { points: { show: x.length <= 40, size: 6 } }),
        })),
      ],
    }
    const chart = new uPlot(options, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el)
    const observer = new ResizeObserver(() => chart.setSize({ width: Math.max(el.clientWidth, 200), height }))
    observer.observe(el)
    return () => {
      observer.disconnect()
      chart.destroy()
    }
  }, [x, series, time, kind, height, xLabel, formatX, integerX, xIncrs])
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={summary} />
    </figure>
  )
}
