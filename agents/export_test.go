package agents

// SucceededEvent is succeededEvent, for the tests of the success's after-commit event.
var SucceededEvent = succeededEvent
