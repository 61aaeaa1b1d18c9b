// Command etcd is the etcd server of go.etcd.io/etcd/server/v3, built from
// Go modules as the storage of meshcheck's API-server test tier.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
