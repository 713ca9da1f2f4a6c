# Container images (docker/*.Dockerfile) and the DHI guide's checks; the same
# tasks as the justfile, for people without `just`.
#
#   make build-images [IMAGES="python sidecar"] [REGISTRY=ghcr.io/me/kcr] [TAG=v1] [IMAGE_ARGS=...]
#   make test-images  [LANGS="py js"] [REGISTRY=...] [TAG=...] [IMAGE_ARGS=...]
#   make test-k8s     [LANGS="py"] [REGISTRY=...] [TAG=...] [IMAGE_ARGS="--keep-pods -v"]
#   make lint-dockerfiles            kcr lint-dockerfile on every Dockerfile in git

.PHONY: build-images test-images test-k8s lint-dockerfiles

IMAGES     ?=
LANGS      ?=
REGISTRY   ?=
TAG        ?=
IMAGE_ARGS ?=

image_common = $(if $(REGISTRY),-r $(REGISTRY)) $(if $(TAG),-t $(TAG))

build-images:
	scripts/build-images.sh $(image_common) $(IMAGE_ARGS) $(IMAGES) $(LANGS)

test-images:
	scripts/test-images.sh $(image_common) $(foreach l,$(LANGS),-l $(l)) $(IMAGE_ARGS)

test-k8s:
	scripts/test-k8s-sidecar.sh $(image_common) $(foreach l,$(LANGS),-l $(l)) $(IMAGE_ARGS)

# Every tracked (or new, not ignored) file named Dockerfile, *.Dockerfile or Dockerfile.*.
DOCKERFILES = $(shell git ls-files --cached --others --exclude-standard \
                '*Dockerfile' '*.Dockerfile' '*Dockerfile.*' 2>/dev/null)

lint-dockerfiles: $(BUILD)/kcr
	@if [ -z "$(strip $(DOCKERFILES))" ]; then echo "lint-dockerfiles: no Dockerfiles"; \
	else $(BUILD)/kcr lint-dockerfile $(DOCKERFILES) && \
	     echo "lint-dockerfiles: $(words $(DOCKERFILES)) files clean"; fi
