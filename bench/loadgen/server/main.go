// Command server is the loopback target of the load generator benchmarks
// (bench/loadgen/run.sh): it answers every request with a small JSON body
// like mendhak/http-https-echo's, naming pod echo-v1 three times out of four
// and echo-v2 otherwise, in a fixed rotation so that a 75/25 expectation
// with a tiny tolerance never reaches a verdict and the attack runs its whole
// budget.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18181", "address to listen on")
	flag.Parse()
	bodies := [2][]byte{
		[]byte(`{"path":"/echo","os":{"hostname":"echo-v1"},"message":"Hello v1"}` + "\n"),
		[]byte(`{"path":"/echo","os":{"hostname":"echo-v2"},"message":"Hello v2"}` + "\n"),
	}
	var n atomic.Uint64
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b := bodies[0]
		if n.Add(1)%4 == 0 {
			b = bodies[1]
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.Write(b)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, "listening on", ln.Addr())
	log.Fatal(http.Serve(ln, handler))
}
