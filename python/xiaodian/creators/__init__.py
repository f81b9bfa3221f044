"""Creator (达人) scoring: metrics, cohort percentiles, leaderboards, the CreatorService."""
