package kind

import "github.com/meshcheck/meshcheck/env"

var _ env.Disposer = (*Env)(nil)

// DisposedOnClose implements env.Disposer: Close after a failed run deletes
// the cluster, and with it everything the scenarios applied, when this run
// created the cluster and neither Keep nor KeepOnFailure holds (teardown in
// provision.go keeps it otherwise). A reused cluster stays, and so would
// the scenarios' objects without their Teardown; after Close nothing is
// held, and it reports false.
func (e *Env) DisposedOnClose() bool {
	s := e.Session()
	if s == nil || s.Cluster == nil {
		return false
	}
	return s.Cluster.Created && !s.opts.Keep && !s.opts.KeepOnFailure
}
