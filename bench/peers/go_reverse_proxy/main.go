// Command go_reverse_proxy is the gateway suite's language-neutral floor: Go's standard
// net/http/httputil.ReverseProxy in front of one MCP endpoint, knowing nothing of MCP. It forwards
// every request with keep-alive connections and flushes streamed answers (SSE) at once.
//
//	go_reverse_proxy URL
//
// prints "listening go-reverse-proxy URL" when ready and exits on SIGTERM or SIGINT.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "Usage: go_reverse_proxy URL")
		os.Exit(2)
	}
	target, err := url.Parse(os.Args[1])
	if err != nil || target.Host == "" {
		fmt.Fprintf(os.Stderr, "Invalid URL %q: %v\n", os.Args[1], err)
		os.Exit(2)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
		},
		// -1: flush after every write, so an SSE event is not held back.
		FlushInterval: -1,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 256,
			DisableCompression:  true,
		},
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server := &http.Server{Handler: proxy}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		server.Close()
	}()
	fmt.Printf("listening go-reverse-proxy http://%s%s\n", listener.Addr(), target.Path)
	if err := server.Serve(listener); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
