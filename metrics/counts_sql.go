package metrics

// SQL of the scrape-time counts. Each runs inside one workspace's door (store.DB.InWorkspace):
// row-level security confines it to that workspace.
const (
	countTasksSQL = `SELECT kind, status, count(*) FROM tasks GROUP BY 1, 2`

	countDeadLettersSQL = `SELECT reason, count(*) FROM dead_letters WHERE replayed_at IS NULL GROUP BY 1`
)
