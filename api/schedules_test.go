package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/api"
	"github.com/mosaicstack/mosaic/mosaictype"
)

func TestSchedulesAPI(t *testing.T) {
	t.Parallel()
	c, ws, _ := taskServer(t)
	ctx := context.Background()

	sch, err := c.CreateSchedule(ctx, ws, api.CreateScheduleRequest{Name: "nightly", Kind: "demo.echo",
		Args: json.RawMessage(`{"report":"daily"}`), Cron: "30 2 * * *", TimeZone: "Europe/Paris", Overlap: "skip"})
	if err != nil {
		t.Fatal(err)
	}
	if sch.Name != "nightly" || sch.Priority != 5 || sch.Missed != "run_once" || sch.Overlap != "skip" || len(sch.NextRuns) != 5 ||
		!sch.NextRunAt.Equal(sch.NextRuns[0]) || sch.CreatedBy == "" {
		t.Fatalf("created: %+v", sch)
	}
	for i, at := range sch.NextRuns {
		paris := at.In(mustZone(t, "Europe/Paris"))
		if paris.Hour() != 2 || paris.Minute() != 30 || (i > 0 && !at.After(sch.NextRuns[i-1])) {
			t.Fatalf("next run %d: %s (%s in Paris)", i, at, paris)
		}
	}
	every, err := c.CreateSchedule(ctx, ws, api.CreateScheduleRequest{Name: "often", Kind: "demo.echo", Every: "90s", Paused: true})
	if err != nil || every.Every != "1m30s" || every.PausedAt == nil || len(every.NextRuns) != 0 {
		t.Fatalf("every, paused: %+v %v", every, err)
	}

	for name, bad := range map[string]api.CreateScheduleRequest{
		"duplicate name":    {Name: "nightly", Kind: "demo.echo", Every: "1m"},
		"bad name":          {Name: "Nightly Report", Kind: "demo.echo", Every: "1m"},
		"no timing":         {Name: "x", Kind: "demo.echo"},
		"both timings":      {Name: "x", Kind: "demo.echo", Every: "1m", Cron: "* * * * *"},
		"bad cron":          {Name: "x", Kind: "demo.echo", Cron: "every day"},
		"bad zone":          {Name: "x", Kind: "demo.echo", Cron: "@daily", TimeZone: "Nowhere/Town"},
		"short interval":    {Name: "x", Kind: "demo.echo", Every: "100ms"},
		"bad overlap":       {Name: "x", Kind: "demo.echo", Every: "1m", Overlap: "queue"},
		"bad missed":        {Name: "x", Kind: "demo.echo", Every: "1m", Missed: "all"},
		"bad args":          {Name: "x", Kind: "demo.steps", Every: "1m", Args: json.RawMessage(`{"steps":"many"}`)},
		"credential kinds":  {Name: "x", Kind: "credentials.rotate", Every: "1m"},
		"bad priority":      {Name: "x", Kind: "demo.echo", Every: "1m", Priority: 11},
		"a name like an id": {Name: "01a250ab-5aaa-77c0-aa5f-8da2f1cc2493", Kind: "demo.echo", Every: "1m"},
	} {
		_, err := c.CreateSchedule(ctx, ws, bad)
		want := api.CodeInvalidArgument
		if name == "duplicate name" {
			want = api.CodeConflict
		}
		if !mosaictype.IsCode(err, want) {
			t.Errorf("%s: %v; want %s", name, err, want)
		}
	}

	list, err := c.ListSchedules(ctx, ws)
	if err != nil || len(list) != 2 || list[0].Name != "nightly" || list[1].Name != "often" {
		t.Fatalf("list: %+v %v", list, err)
	}
	paused, err := c.SetSchedulePaused(ctx, ws, "nightly", true)
	if err != nil || paused.PausedAt == nil || len(paused.NextRuns) != 0 {
		t.Fatalf("pause: %+v %v", paused, err)
	}
	resumed, err := c.SetSchedulePaused(ctx, ws, sch.ID.String(), false)
	if err != nil || resumed.PausedAt != nil || !resumed.NextRunAt.After(time.Now()) {
		t.Fatalf("resume by id: %+v %v", resumed, err)
	}
	got, err := c.GetSchedule(ctx, ws, "nightly")
	if err != nil || len(got.LastRuns) != 0 || got.Runs != 0 || got.ID != sch.ID {
		t.Fatalf("get: %+v %v", got, err)
	}
	if err := c.DeleteSchedule(ctx, ws, "nightly"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSchedule(ctx, ws, "nightly"); !mosaictype.IsCode(err, api.CodeNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
