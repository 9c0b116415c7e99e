# The evaluation's VM-tier rows (issue 14): `vfwirectl probe` between igbvf VFs of the VM's igb
# PF, kernel mode and DPDK, beside a veth between two namespaces of the same VM for scale. Sourced
# by vmtest/tests.sh after vmtest/dpdk.sh, with its helpers (ok, bad, cni, conf, link_add, reach,
# PF, CTL, ctr_*); then evaluate_igbvf prints the table. The figures are QEMU's TCG emulating the
# CPU and the NIC, not hardware: they are printed, never judged; a row fails only when its probes
# got no answers.
#
# Rows, all on VLAN 100, each EVAL_COUNT probes at EVAL_RATE/s from namespace ea:
#   veth           ea's own veth to a namespace eb; the probe's reflector answers
#   igbvf kernel   a kernel-mode VF in ea to one in eb, through the emulated NIC's switch
#   igbvf DPDK     to a vfio-pci VF driven by dpdk-testpmd --forward-mode=5tswap in a runc
#                  container, which sends each UDP datagram back with MACs, addresses and ports
#                  swapped. The probe always starts its own reflector in the --to namespace; here
#                  that is ed, which holds the address on a dummy and gets no traffic: ea's
#                  neighbour entry for the address is testpmd's MAC, so testpmd answers instead.

EVAL_COUNT=${EVAL_COUNT:-1000}
EVAL_RATE=${EVAL_RATE:-1000}
EVAL_DPDK_MAC=02:00:00:00:0e:03

# eval_row LABEL TO_NS ADDRESS: one probe from ea, a table row, and ok/bad on whether it was answered.
eval_row() {
  local r
  r=$("$CTL" probe --from ea --to "$2:$3" --count "$EVAL_COUNT" --rate "$EVAL_RATE" --json --no-ping)
  jq -r --arg k "$1" 'def f: if . == null then "-" else . * 10 | round / 10 end;
    "| \($k) | \(.p50_us | f) | \(.p90_us | f) | \(.p99_us | f) | \(.max_us | f) | \(.loss_pct | f) |"' <<<"$r" >>/tmp/eval-rows
  if [ "$(jq -r '.received // 0' <<<"$r")" -gt 0 ]; then ok "evaluate: $1 probes answered"
  else bad "evaluate: $1: no probe answered: $r"; fi
}

evaluate_igbvf() {
  local cd r pci grpdev h rr=/run/vfw-eval-runc
  : >/tmp/eval-rows
  for h in a b c d; do ip netns add e$h; done
  ip -n ea link add ev0 type veth peer name ev0 netns eb
  ip -n ea addr add 198.18.78.1/30 dev ev0 && ip -n eb addr add 198.18.78.2/30 dev ev0
  ip -n ea link set ev0 up && ip -n eb link set ev0 up
  expect "evaluate: ADD kernel VF a on VLAN 100" link_add ea 100 198.18.77.1
  expect "evaluate: ADD kernel VF b on VLAN 100" link_add eb 100 198.18.77.2
  expect "evaluate: a reaches b" reach ea 198.18.77.2
  eval_row "veth (no NIC)" eb 198.18.78.2
  eval_row "igbvf kernel" eb 198.18.77.2

  cd=$(conf "\"mode\":\"vfio\",\"vlan\":100,\"mac\":\"$EVAL_DPDK_MAC\"")
  r=$(cni ADD ec "$cd")
  pci=$(jq -r '.interfaces[0].pciID' <<<"$r"); grpdev=$(jq -r '.interfaces[0].vfioDevice' <<<"$r")
  # shellcheck disable=SC2046  # testpmd_args prints words
  ctr_bundle /tmp/eval-dpdk $(testpmd_args "$pci" 5tswap) && dpdk_declare_vfio /tmp/eval-dpdk "$grpdev" \
    && ctr_start $rr /tmp/eval-dpdk eval-dpdk
  expect "evaluate: testpmd forwards in 5tswap mode on $pci" testpmd_wait $rr /tmp/eval-dpdk eval-dpdk
  ip -n ed link add d0 type dummy && ip -n ed addr add 198.18.77.3/32 dev d0 && ip -n ed link set d0 up
  ip -n ea neigh replace 198.18.77.3 lladdr $EVAL_DPDK_MAC dev net1 nud permanent
  eval_row "igbvf DPDK (testpmd 5tswap)" ed 198.18.77.3
  ctr_delete $rr eval-dpdk TERM
  cni DEL ec "$cd" >/dev/null
  for h in a b; do cni DEL e$h "$(conf)" >/dev/null; done
  for h in a b c d; do ip netns del e$h; done
  rm -rf /tmp/eval-dpdk; rmdir $rr

  echo "evaluation in the VM: $EVAL_COUNT probes at $EVAL_RATE/s per row; QEMU TCG (CPU and igb NIC emulated), not hardware:"
  echo "| path | p50 µs | p90 µs | p99 µs | max µs | loss % |"
  echo "|---|---:|---:|---:|---:|---:|"
  cat /tmp/eval-rows; rm -f /tmp/eval-rows
}
