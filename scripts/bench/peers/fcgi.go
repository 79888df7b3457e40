// Peer: Go's net/http/fcgi serving hello world on a UNIX socket.
package main

import (
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
)

func main() {
	path := os.Args[1]
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		panic(err)
	}
	os.Chmod(path, 0777)
	fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!\n"))
	}))
}
