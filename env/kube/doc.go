// Package kube deploys a scenario's objects to a real Kubernetes cluster
// with Istio and removes them again: the deploy side shared by the `kind`
// and `existing` environments.
//
// Every object goes through server-side apply with the field manager
// "meshcheck" and carries the labels app.kubernetes.io/managed-by=meshcheck
// and meshcheck.dev/scenario=<name>; the labels are also how cleanup finds
// what meshcheck created, and an object without them is never changed or
// deleted. Changes follow Istio's make-before-break order (see Apply), waits
// poll the API with a deadline, and the pod name -> version map used to
// classify responses comes from the pods behind the probed Services.
// writeDryRun prints, without contacting a cluster, every object a
// scenario's run would apply, labelled and in the order Apply sends them.
package kube
