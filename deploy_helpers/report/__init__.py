"""The sign-off report: run facts, results, verdict, summary.json, report.html and run diffs.

Modules: `facts` (what stages contribute to a run), `redact` (secrets out of artifacts),
`fingerprint` (the environment a run qualified), `results` (test outcomes), `waivers`,
`verdict`, `perf` (perf-*.json results), `summary` (summary.json and its schema),
`html` and `plots` (report.html), `browser` (headless Chromium check), `diff`.
"""
