package store

// For the store_test package: the engine's batch statements and their door.
const BatchDoorSQL = setBatchDoorSQL

var (
	FinishManySQL     = finishManySQL
	CheckpointManySQL = checkpointManySQL
	RenewLeasesSQL    = renewLeasesSQL
)
