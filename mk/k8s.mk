# kcr-k8s-driver: a test driver that runs the kubernetes pod backend
# (src/pod/pod-k8s.c) outside `kcr serve`, so tests/e2e/test_k8s_*.py can act
# as several API replicas against tests/e2e/k8s_sim.py. Not installed anywhere.
K8S_DRIVER := $(BUILD)/kcr-k8s-driver
binaries-only: $(K8S_DRIVER)

$(K8S_DRIVER): $(BUILD)/obj/tests/helpers/k8s-driver.o $(call link_libs,pod)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(call link_libs,pod) $(LIBS)

$(BUILD)/obj/tests/helpers/k8s-driver.o: tests/helpers/k8s-driver.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@
