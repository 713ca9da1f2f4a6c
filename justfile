# kcr tasks for `just` (https://github.com/casey/just); `make` has the same
# targets for people without just (mk/images.mk).
#
#   just build-images                 every image, named kcr-<image>:latest
#   just build-images -r ghcr.io/me/kcr python
#   just test-images -l py -l js      docker-only + sidecar test per language
#   just test-k8s -l py --keep-pods -v
#   just lint-dockerfiles

# Build the container images (scripts/build-images.sh [-r REGISTRY] [LANG...]).
build-images *ARGS:
    scripts/build-images.sh {{ARGS}}

# Test the images with Docker (scripts/test-images.sh [-l LANG]...).
test-images *ARGS:
    scripts/test-images.sh {{ARGS}}

# Test the images in Kubernetes with production security settings.
test-k8s *ARGS:
    scripts/test-k8s-sidecar.sh {{ARGS}}

# Lint every Dockerfile in the repository against the DHI guide.
lint-dockerfiles:
    make lint-dockerfiles
