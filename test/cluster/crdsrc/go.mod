// Pins the modules whose CRD manifests the test cluster installs. Nothing here is built:
// build.sh reads the manifests out of the module cache (go list -m -json).
module kubectl-mcp.test/cluster/crdsrc

go 1.26.0

require (
	github.com/kuadrant/kuadrant-operator v1.2.0
	sigs.k8s.io/gateway-api v1.6.3
)
