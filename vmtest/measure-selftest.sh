#!/bin/bash
# Checks vmtest/measure.sh's arithmetic on machines without netem: CTL is a stand-in that
# answers `netem set` by remembering the impairment and `probe` with canned figures for it.
# A faithful stand-in must pass every check; one whose delay or loss is off must fail them.
# Usage: vmtest/measure-selftest.sh (no root needed). Exits non-zero on a wrong verdict.
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
. "$here/measure.sh"

# stub DELAY_MIN LOSS_RECEIVED RESTORED_MIN: a vfwirectl whose probe reports these; the
# baseline's minimum is 30 us, and every p50 is far off its minimum, as TCG's timer skew makes it.
stub() {
  cat >"$work/ctl" <<STUB
#!/bin/bash
state=$work/state
case "\$1 \$2" in
  "netem set") shift 4; echo "\$*" >"\$state" ;;
  "probe --from")
    case "\$(cat "\$state")" in
      "--delay 2ms") min=$1 received=2000 ;;
      "--loss 10%") min=30 received=$2 ;;
      *) if [ -e $work/seen ]; then min=$3; else min=30; touch $work/seen; fi; received=2000 ;;
    esac
    p50=\$((\$min + 3000))
    echo "{\"sent\":2000,\"received\":\$received,\"min_us\":\$min,\"p50_us\":\$p50}" ;;
esac
STUB
  chmod +x "$work/ctl"; rm -f "$work/seen" "$work/state"
  CTL=$work/ctl
}

verdicts() { # expect: the ok/bad pattern measure_netem must print for this stand-in
  local want=$1 out got
  out=$(pass=0 fail=0; measure_netem nsA eth1 nsB 198.18.0.2)
  got=$(awk '{print $1}' <<<"$out" | tr '\n' ' ')
  if [ "$got" = "$want" ]; then echo "ok   verdicts $want"; pass=$((pass + 1))
  else echo "FAIL verdicts: got '$got', want '$want'"; printf '%s\n' "$out"; fail=$((fail + 1)); fi
}

stub 2030 1800 40;  verdicts "ok ok ok ok "         # +2000 us, 10 % loss, back near 30
stub 1130 1800 40;  verdicts "ok FAIL ok ok "       # a 1 ms rise is not 2 ms
stub 2030 1600 40;  verdicts "ok ok FAIL ok "       # 20 % loss is not 10 % +- 3
stub 2030 1800 900; verdicts "ok ok ok FAIL "       # a minimum that does not come back
stub 2530 1740 40;  verdicts "ok ok ok ok "         # the edges: +2500 us and 13 % are inside
stub 2531 1739 40;  verdicts "ok FAIL FAIL ok "     # one past them is not
stub 1829 1800 40;  verdicts "ok FAIL ok ok "       # nor is one short of +1800 us
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
