// Summarises a run of the vendored cache-tests suite (RFC 9111) against the published runs
// of reverse proxies and CDNs: per group, the required tests that failed in the RFC 9111 core
// (every group but `cdn-cache-control` and `interim`), the optimal core tests passed and the
// required core tests that failed in their setup, each test counted on its own result.
//
// Usage: node cache-tests-summary.mjs SUITE_DIR NAME=RESULTS.json=BASELINE.txt ...
// One column per run of ours; a baseline lists (one test id a line) the required core tests
// that passed before: exits 1 when one of them no longer passes. With
// CACHE_TESTS_WRITE_BASELINE=1, writes each baseline from its run instead.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [suiteDir, ...oursArgs] = process.argv.slice(2)
const ours = oursArgs.map((arg) => {
  const [name, results, baseline] = arg.split('=')
  return { name, results, baseline }
})
const load = async (path) => (await import(pathToFileURL(join(suiteDir, path)).href)).default
const suites = await load('tests/index.mjs')
const { determineTestResult, resultTypes } = await import(
  pathToFileURL(join(suiteDir, 'test-engine/lib/results.mjs')).href
)
const published = (await load('results/index.mjs')).filter((item) => item.type !== 'browser')
const OUTSIDE_CORE = new Set(['cdn-cache-control', 'interim'])

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))
const runs = ours.map((run) => ({ name: run.name, results: readJson(run.results) })).concat(
  published.map((item) => ({ name: item.name, results: readJson(join(suiteDir, 'results', item.file)) }))
)

const required = (test) => test.kind === undefined || test.kind === 'required'
const outcome = (results, id) => determineTestResult(suites, id, results, false)

function tally (results, suite) {
  const counts = { pass: 0, fail: 0, other: 0 }
  for (const test of suite.tests) {
    if (!required(test) || results[test.id] === undefined) continue
    const result = outcome(results, test.id)
    if (result === resultTypes.pass) counts.pass++
    else if (result === resultTypes.fail) counts.fail++
    else counts.other++
  }
  return counts
}

const pad = (text, width) => String(text).padEnd(width)
const width = Math.max(9, ...runs.map((run) => run.name.length + 2))
console.log('Required tests failed per group (failed/run; ours first):')
console.log(pad('group', 22) + runs.map((run) => pad(run.name, width)).join(''))
const totals = runs.map(() => 0)
for (const suite of suites) {
  const cells = runs.map((run, index) => {
    const counts = tally(run.results, suite)
    if (!OUTSIDE_CORE.has(suite.id)) totals[index] += counts.fail
    return `${counts.fail}/${counts.pass + counts.fail + counts.other}`
  })
  const label = OUTSIDE_CORE.has(suite.id) ? `(${suite.id})` : suite.id
  console.log(pad(label, 22) + cells.map((cell) => pad(cell, width)).join(''))
}
console.log(pad('RFC 9111 core', 22) + totals.map((total) => pad(total, width)).join(''))

const coreTests = suites.filter((suite) => !OUTSIDE_CORE.has(suite.id)).flatMap((suite) => suite.tests)

// Optimal tests that ran: the browser-only ones are not run against proxies.
const optimal = coreTests.filter((test) => test.kind === 'optimal' && !test.browser_only)
console.log('\nOptimal core tests passed, and required core tests failed in their setup:')
for (const run of runs) {
  const passed = optimal.filter((test) => outcome(run.results, test.id) === resultTypes.pass).length
  const setup = coreTests.filter((test) => required(test) && outcome(run.results, test.id) === resultTypes.setup_fail)
  console.log(pad(run.name, width) + pad(`${passed}/${optimal.length}`, 8) + setup.map((test) => test.id).join(', '))
}
let regressions = 0
ours.forEach((run, index) => {
  const results = runs[index].results
  const failed = coreTests.filter((test) => required(test) && outcome(results, test.id) === resultTypes.fail)
  console.log(`\n${run.name}: ${failed.length} required core tests failed`)
  for (const test of failed) console.log(`  ${test.id}: ${(results[test.id] || [])[1] || ''}`)
  if (!run.baseline) return
  if (process.env.CACHE_TESTS_WRITE_BASELINE === '1') {
    const passing = coreTests.filter((test) => required(test) && outcome(results, test.id) === resultTypes.pass)
    writeFileSync(run.baseline, passing.map((test) => test.id).join('\n') + '\n')
    console.log(`${run.name}: wrote ${passing.length} passing required tests to the baseline`)
    return
  }
  const baseline = readFileSync(run.baseline, 'utf8').split('\n').map((line) => line.trim()).filter(Boolean)
  const regressed = baseline.filter((id) => outcome(results, id) !== resultTypes.pass)
  if (regressed.length > 0) {
    console.log(`${run.name}: required tests that passed before and no longer pass: ${regressed.join(', ')}`)
    regressions += regressed.length
  } else {
    console.log(`${run.name}: all ${baseline.length} required tests of the baseline still pass`)
  }
})
process.exit(regressions > 0 ? 1 : 0)
