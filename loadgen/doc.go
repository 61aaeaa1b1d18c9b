// Package loadgen drives meshcheck's evidence: constant-rate HTTP load
// (github.com/tsenart/vegeta/v12/lib), classification of every response into
// a version, and the hand-over of the records, in send order, to a Sink the
// caller supplies; the Sink judges them and says when to stop.
//
// # Pieces
//
//   - Run attacks a Target at Options.Rate with one vegeta Attacker per
//     attack (vegeta's Stop is permanent), within a time budget
//     (Options.Duration) and a request budget (Options.MaxRequests). The
//     Host travels as a header, which vegeta turns into req.Host; a Host
//     with a port is refused (mesh.HostPortRule says why).
//   - Results complete in any order; a sequencer (sequence.go) releases
//     them in the order the requests were sent, so that a slow version's
//     responses cannot come last.
//   - An unjudged settle phase (settle.go) takes the first released records
//     until a run of good responses; the Sink sees only the records after
//     it. Its end is a stopping time of unjudged data, so a sequential test
//     fed from there keeps its error rates.
//   - A Classifier reads the raw value naming a response's version
//     (json:<path> on github.com/tidwall/gjson, regex:<expr>,
//     header:<name>, status); a VersionMap turns raw values (pod names)
//     into versions. Errors (no response, statuses outside 100–399) never
//     become versions.
//   - The judged records fold into Stats in constant memory: counters, a
//     log-linear latency histogram and at most five samples each of errors
//     and unclassified responses.
//   - Every record, its Phase set (settle, judged, after), can be saved as
//     a results file with a RecordWriter: a Header line (environment,
//     emulated, target), then one NDJSON Record per request; Replay hands
//     a file's judged records to a Sink again.
//   - AgentServer runs probes inside the mesh and streams their records;
//     AgentClient orders, settles and hands them to a Sink locally with the
//     same code as Run.
//
// The package decides nothing: it imports nothing of package verify, and
// verdicts come from the caller's Sink (package judge feeds verify.Engine).
package loadgen
