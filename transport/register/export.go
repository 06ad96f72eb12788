package register

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"iter"
	"strconv"
	"time"
)

// ExportJSONL writes one JSON object per entry (the Record form, hashes in
// hex, time in RFC 3339 UTC with microseconds) and returns how many it
// wrote. It stops at the first error from entries or w.
func ExportJSONL(w io.Writer, entries iter.Seq2[Entry, error]) (int64, error) {
	enc := json.NewEncoder(w)
	var n int64
	for e, err := range entries {
		if err != nil {
			return n, err
		}
		if err := enc.Encode(e.Record()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// CSVHeader is the first row ExportCSV writes.
var CSVHeader = []string{
	"seq", "time", "direction", "channel", "event", "actor", "endpoint", "message_id", "related",
	"correlation", "attempt", "payload_sha256", "payload_size", "payload_kept", "detail", "tenant", "prev_hash",
	"hash",
}

// ExportCSV writes a header row (CSVHeader) and one row per entry, with the
// same fields and forms as ExportJSONL.
func ExportCSV(w io.Writer, entries iter.Seq2[Entry, error]) (int64, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, err
	}
	var n int64
	for e, err := range entries {
		if err != nil {
			cw.Flush()
			return n, err
		}
		r := e.Record()
		row := []string{
			strconv.FormatInt(r.Seq, 10), r.Time.Format(TimeFormat), r.Direction, r.Channel, r.Event, r.Actor,
			r.Endpoint, r.MessageID, r.Related, r.Correlation, strconv.Itoa(r.Attempt), r.PayloadSHA256.String(),
			strconv.FormatInt(r.PayloadSize, 10), strconv.FormatBool(r.PayloadKept), r.Detail, r.Tenant, r.PrevHash.String(),
			r.Hash.String(),
		}
		if err := cw.Write(row); err != nil {
			return n, err
		}
		n++
	}
	cw.Flush()
	return n, cw.Error()
}

// TimeFormat is how exports and listings print entry times: RFC 3339 in
// UTC with exactly six fractional digits.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// MarshalJSON writes r with Time in TimeFormat.
func (r Record) MarshalJSON() ([]byte, error) {
	type plain Record
	return json.Marshal(struct {
		plain
		Time string `json:"time"`
	}{plain(r), r.Time.UTC().Format(TimeFormat)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Record) UnmarshalJSON(b []byte) error {
	type plain Record
	var v struct {
		plain
		Time string `json:"time"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, v.Time)
	if err != nil {
		return err
	}
	*r = Record(v.plain)
	r.Time = t.UTC()
	return nil
}
