;; Inner loop of the streaming polyphase resampler (resample.ts) in WebAssembly SIMD128.
;;
;; run computes consecutive outputs while their whole filter lies in the history: output j is the dot
;; product of `taps` history samples from index $base with the coefficients of phase p (f32, taps a multiple
;; of 8, two f32x4 accumulators), then the position advances by M/L input samples as integers:
;; base += step, frac += stepFrac, and a carry when frac reaches L. With fewer filters than L (phases < L)
;; the phase snaps to floor(frac * phases / L). It stops after $limit outputs or when base passes $last,
;; stores the new base and frac at addresses 0 and 4, and returns the number of outputs written.
;; The resampler's JS fallback does the same sums in the same order (lanes 0..3 of the two accumulators,
;; then (l0 + l1) + (l2 + l3)), so both give the same samples.
;;
;; Compiled into resample-wasm.generated.ts; test/unit/audio/stages/resample-wasm.test.ts checks that the
;; generated file matches this source and rewrites it when run with UPDATE_WASM=1.
(module
  (memory (export "memory") 1)
  (func (export "run")
    (param $coef i32) (param $buf i32) (param $out i32) (param $limit i32) (param $last i32)
    (param $step i32) (param $stepFrac i32) (param $L i32) (param $phases i32) (param $taps i32)
    (param $base i32) (param $frac i32)
    (result i32)
    (local $j i32) (local $p i32) (local $h i32) (local $x i32) (local $end i32) (local $bytes i32)
    (local $a0 v128) (local $a1 v128)
    (local.set $bytes (i32.shl (local.get $taps) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.gt_s (local.get $base) (local.get $last)))
        (br_if $done (i32.ge_s (local.get $j) (local.get $limit)))
        (if (i32.eq (local.get $phases) (local.get $L))
          (then (local.set $p (local.get $frac)))
          (else
            (local.set $p
              (i32.wrap_i64
                (i64.div_u
                  (i64.mul (i64.extend_i32_u (local.get $frac)) (i64.extend_i32_u (local.get $phases)))
                  (i64.extend_i32_u (local.get $L)))))))
        (local.set $h (i32.add (local.get $coef) (i32.mul (local.get $p) (local.get $bytes))))
        (local.set $end (i32.add (local.get $h) (local.get $bytes)))
        (local.set $x (i32.add (local.get $buf) (i32.shl (local.get $base) (i32.const 2))))
        (local.set $a0 (f32x4.splat (f32.const 0)))
        (local.set $a1 (f32x4.splat (f32.const 0)))
        (loop $tap
          (local.set $a0
            (f32x4.add (local.get $a0)
              (f32x4.mul (v128.load (local.get $x)) (v128.load (local.get $h)))))
          (local.set $a1
            (f32x4.add (local.get $a1)
              (f32x4.mul (v128.load offset=16 (local.get $x)) (v128.load offset=16 (local.get $h)))))
          (local.set $x (i32.add (local.get $x) (i32.const 32)))
          (local.set $h (i32.add (local.get $h) (i32.const 32)))
          (br_if $tap (i32.lt_u (local.get $h) (local.get $end))))
        (local.set $a0 (f32x4.add (local.get $a0) (local.get $a1)))
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2)))
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
            (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (local.set $base (i32.add (local.get $base) (local.get $step)))
        (local.set $frac (i32.add (local.get $frac) (local.get $stepFrac)))
        (if (i32.ge_u (local.get $frac) (local.get $L))
          (then
            (local.set $frac (i32.sub (local.get $frac) (local.get $L)))
            (local.set $base (i32.add (local.get $base) (i32.const 1)))))
        (br $next)))
    (i32.store (i32.const 0) (local.get $base))
    (i32.store (i32.const 4) (local.get $frac))
    (local.get $j)))
