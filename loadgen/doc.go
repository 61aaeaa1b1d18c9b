// Package loadgen drives meshcheck's evidence: constant-rate HTTP load
// (github.com/tsenart/vegeta/v12/lib), classification of every response into
// a version, and the streaming fold of results into a verify.Engine that
// stops the attack as soon as the verdict is decided.
//
// # Pieces
//
//   - Run attacks a Target at Options.Rate with one vegeta Attacker per
//     attack (vegeta's Stop is permanent), within a time budget
//     (Options.Duration) and a request budget (Options.MaxRequests). The
//     Host travels as a header, which vegeta turns into req.Host; a Host
//     with a port is refused (mesh.HostPortRule says why).
//   - A Classifier reads the raw value naming a response's version
//     (json:<path>, regex:<expr>, header:<name>, status); a VersionMap turns
//     raw values (pod names) into versions. Errors (no response, statuses
//     outside 100–399) never become versions.
//   - Results fold into Stats in constant memory: counters, a log-linear
//     latency histogram and at most five samples each of errors and
//     unclassified responses.
//   - Records (one per request) can be saved as NDJSON with a RecordWriter
//     and judged again with ReplayFile.
//   - AgentServer runs probes inside the mesh and streams their records;
//     AgentClient judges such a stream locally with the same code as Run.
//
// The package decides nothing itself: verdicts come from package verify.
package loadgen
