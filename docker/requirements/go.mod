// Modules pre-downloaded into kcr-go's /go/pkg/mod (docker/go.Dockerfile).
// User code runs with GOPROXY=off, so only modules in this cache resolve.
module kcr/prefetch

go 1.25

require (
	github.com/google/uuid v1.6.0
	gonum.org/v1/gonum v0.15.1
)
