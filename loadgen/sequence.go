package loadgen

import (
	"fmt"
	"slices"
)

// sequencer hands records on in send order. vegeta numbers requests as it
// sends them (Result.Seq), but they complete in any order, and the verdict
// must not see them as they complete: when one version answers more slowly,
// the first completed responses all come from the fast one, and an early
// decision would be taken on a biased sample. The sequencer holds a record
// that completes before an earlier one until the gap closes; every request
// ends within its timeout, so it holds at most about rate × timeout records.
type sequencer struct {
	next    uint64
	pending map[uint64]Record
}

// push adds r and calls emit for every record that is now next in send
// order, r included when it is. A sequence number seen before is an error.
func (s *sequencer) push(r Record, emit func(Record)) error {
	if r.Seq < s.next {
		return fmt.Errorf("request %d reported twice", r.Seq)
	}
	if r.Seq > s.next {
		if _, dup := s.pending[r.Seq]; dup {
			return fmt.Errorf("request %d reported twice", r.Seq)
		}
		if s.pending == nil {
			s.pending = map[uint64]Record{}
		}
		s.pending[r.Seq] = r
		return nil
	}
	emit(r)
	s.next++
	for {
		q, ok := s.pending[s.next]
		if !ok {
			return nil
		}
		delete(s.pending, s.next)
		emit(q)
		s.next++
	}
}

// hold keeps r without releasing anything: for records that complete after
// the probe is over, which drain returns with the rest.
func (s *sequencer) hold(r Record) {
	if s.pending == nil {
		s.pending = map[uint64]Record{}
	}
	s.pending[r.Seq] = r
}

// drain removes and returns the records still held, in send order.
func (s *sequencer) drain() []Record {
	out := make([]Record, 0, len(s.pending))
	for _, r := range s.pending {
		out = append(out, r)
	}
	clear(s.pending)
	slices.SortFunc(out, func(a, b Record) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return out
}
