module kubectl-mcp/bench/peers/go_reverse_proxy

go 1.22
