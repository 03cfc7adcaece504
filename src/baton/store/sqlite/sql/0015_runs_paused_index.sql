-- Which runs are paused, for a claim with no run filter (queries.sql any_run_paused):
-- while one is, its queued tasks stay in the claim index, and the claim descends the
-- per-run index once for each active run instead of walking past them. The index holds
-- only paused runs, so pausing and resuming are all that write it.
CREATE INDEX runs_paused ON runs (id) WHERE state = 'paused';
