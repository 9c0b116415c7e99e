# The probe's correctness checks for the VM tier, whose kernel has sch_netem. Sourced by a test
# script that defines ok, bad (as vmtest/tests.sh does) and CTL (vfwirectl); then
#   measure_netem FROM_NS IFACE TO_NS ADDRESS
# runs, over a link whose FROM_NS end is IFACE and whose TO_NS end has ADDRESS:
#   baseline        2,000 probes, nothing lost;
#   2 ms delay      netem on IFACE's egress: the minimum RTT rises by 2 ms, -10 % to +25 %;
#   10 % loss       (replacing the delay) the reported loss is 10 % +- 3 points over 2,000 probes;
#   removed         both gone: loss 0 and the minimum back within MEASURE_BACK_US of the baseline's.
# Each check is one ok/bad line with its figures. vmtest/measure-selftest.sh checks this logic
# against canned probe results.

MEASURE_COUNT=${MEASURE_COUNT:-2000}
MEASURE_RATE=${MEASURE_RATE:-1000}
# How far the restored minimum may be from the baseline's: TCG's timer noise, not the probe's.
MEASURE_BACK_US=${MEASURE_BACK_US:-300}

# measure_probe FROM_NS TO_NS ADDRESS: "min_us p50_us sent received" of one run.
measure_probe() {
  "$CTL" probe --from "$1" --to "$2:$3" --count "$MEASURE_COUNT" --rate "$MEASURE_RATE" --json --no-ping |
    jq -r '"\(.min_us) \(.p50_us) \(.sent) \(.received)"'
}

# measure_within VALUE LOW HIGH: succeeds when LOW <= VALUE <= HIGH (decimals allowed).
measure_within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; }

measure_netem() {
  local from=$1 iface=$2 to=$3 addr=$4 basemin base sent received min p50 rise loss
  "$CTL" netem set "$from" "$iface" || { bad "measure: clearing $iface's impairments"; return; }
  read -r basemin base sent received <<<"$(measure_probe "$from" "$to" "$addr")"
  if [ "${sent:-0}" = "$MEASURE_COUNT" ] && [ "$received" = "$sent" ]; then ok "measure: baseline p50 ${base} us, nothing lost"
  else bad "measure: baseline: $received of $sent answered"; fi

  "$CTL" netem set "$from" "$iface" --delay 2ms || { bad "measure: netem --delay 2ms on $iface"; return; }
  # The minimum, not the median: netem's delay is a floor under every probe, while TCG's late
  # timers add a skew of their own to the median (a 2 ms delay once moved it by 2.95 ms). The
  # timers' lateness still reaches the minimum under load: +2390 us once, on a busy machine.
  read -r min p50 sent received <<<"$(measure_probe "$from" "$to" "$addr")"
  rise=$(awk -v a="$min" -v b="$basemin" 'BEGIN { print a - b }')
  if measure_within "$rise" 1800 2500; then ok "measure: 2 ms delay raises the minimum RTT by ${rise} us (p50 ${base} -> ${p50})"
  else bad "measure: 2 ms delay raises the minimum RTT by ${rise} us (want 1800-2500; ${basemin} -> ${min})"; fi

  "$CTL" netem set "$from" "$iface" --loss 10% || { bad "measure: netem --loss 10% on $iface"; return; }
  read -r min p50 sent received <<<"$(measure_probe "$from" "$to" "$addr")"
  loss=$(awk -v s="$sent" -v r="$received" 'BEGIN { if (s > 0) print 100 * (s - r) / s }')
  if measure_within "$loss" 7 13; then ok "measure: 10 % netem loss reported as ${loss} % over $sent probes"
  else bad "measure: 10 % netem loss reported as ${loss} % over $sent probes (want 7-13)"; fi

  "$CTL" netem set "$from" "$iface" || { bad "measure: removing $iface's impairments"; return; }
  read -r min p50 sent received <<<"$(measure_probe "$from" "$to" "$addr")"
  if [ "${sent:-0}" = "$MEASURE_COUNT" ] && [ "$received" = "$sent" ] \
      && measure_within "$min" "$(awk -v b="$basemin" -v d="$MEASURE_BACK_US" 'BEGIN { print b - d }')" \
                               "$(awk -v b="$basemin" -v d="$MEASURE_BACK_US" 'BEGIN { print b + d }')"; then
    ok "measure: impairments removed, minimum ${min} us (baseline ${basemin}), nothing lost"
  else bad "measure: impairments removed: minimum ${min} us (baseline ${basemin}), $received of $sent answered"; fi
}

