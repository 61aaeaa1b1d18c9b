// Command kube-apiserver is the Kubernetes API server of k8s.io/kubernetes,
// built from Go modules for meshcheck's API-server test tier
// (internal/apiservertest starts it through controller-runtime's envtest).
package main

import (
	"os"
	_ "time/tzdata" // time zones without the host's database

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
