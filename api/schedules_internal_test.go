package api

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mosaicstack/mosaic/store"
)

// TestScheduleViewShowsTheRow: the API's schedule (mosaictype.Schedule) has every field the
// stored row marshals, under the same JSON name, and scheduleView copies each: a field added to
// store.Schedule fails here until the view shows it (or its tag says "-").
func TestScheduleViewShowsTheRow(t *testing.T) {
	t.Parallel()
	var row store.Schedule
	rv := reflect.ValueOf(&row).Elem()
	for i := range rv.NumField() {
		if !fill(rv.Field(i), i+1) {
			t.Fatalf("the test cannot fill store.Schedule.%s (%s): teach fill", rv.Type().Field(i).Name, rv.Field(i).Type())
		}
	}
	row.Every = 0 // a cron schedule, for the next runs: the copy is what is tested
	view := reflect.ValueOf(scheduleView(row, nil))
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		vf, ok := view.Type().FieldByName(f.Name)
		if !ok {
			t.Errorf("store.Schedule.%s (json %q) is not in mosaictype.Schedule", f.Name, name)
			continue
		}
		if got, _, _ := strings.Cut(vf.Tag.Get("json"), ","); got != name {
			t.Errorf("store.Schedule.%s is %q in JSON, mosaictype.Schedule.%s %q", f.Name, name, f.Name, got)
		}
		if !reflect.DeepEqual(view.FieldByIndex(vf.Index).Interface(), rv.Field(i).Interface()) {
			t.Errorf("scheduleView does not copy %s", f.Name)
		}
	}
}

// fill sets v to a value that is not its zero and differs by n; false for a type it does not know.
func fill(v reflect.Value, n int) bool {
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Unix(int64(n)*1000, 0).UTC()))
		return true
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprint("s", n))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(n))
	case reflect.Array: // uuid.UUID
		for i := range v.Len() {
			v.Index(i).SetUint(uint64(n + i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		if v.Type().Elem().Kind() == reflect.Uint8 { // json.RawMessage
			v.Set(reflect.ValueOf(fmt.Appendf(nil, "%d", n)).Convert(v.Type()))
			return true
		}
		return fill(v.Index(0), n)
	default:
		return false
	}
	return true
}
