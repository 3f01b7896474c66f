;;; bpf-features: real probes, cached.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 popen)
             (ice-9 rdelim))

(harness-begin "features" 'kernel)

(define f (bpf-features))
(test-assert "every documented key is present"
             (every (lambda (k) (assq k f))
                    '(kernel-release btf ringbuf fentry kprobes link-kinds
                      bpffs-mounted tracefs-mounted capabilities cap-bpf
                      cap-net-admin cap-perfmon cap-sys-admin clang
                      clang-version libbpf-version)))
(test-equal "kernel release is uname's" (utsname:release (uname))
            (assq-ref f 'kernel-release))
(test-equal "BTF matches /sys/kernel/btf/vmlinux"
            (file-exists? "/sys/kernel/btf/vmlinux") (assq-ref f 'btf))
(test-assert "ring buffers (kernel >= 5.8)" (assq-ref f 'ringbuf))
;; Program and map kinds: libbpf's probes over the kernel model's tables.
(test-assert "program kinds this kernel loads"
             (lset<= eq? '(xdp tc socket-filter tracepoint raw-tracepoint
                           kprobe uprobe perf-event)
                     (assq-ref f 'program-kinds)))
(test-assert "only kinds of the table" (lset<= eq? (assq-ref f 'program-kinds)
                                                bpf-object-kinds))
(test-assert "map kinds this kernel creates"
             (lset<= eq? '(hash array ringbuf lpm-trie bloom-filter)
                     (assq-ref f 'map-kinds)))
(test-equal "ringbuf agrees with map-kinds" (assq-ref f 'ringbuf)
            (and (memq 'ringbuf (assq-ref f 'map-kinds)) #t))
(test-assert "bpffs mounted (the harness mounts it)" (assq-ref f 'bpffs-mounted))
(test-assert "CAP_BPF" (assq-ref f 'cap-bpf))
(test-assert "libbpf >= 1.0" (string-prefix? "v1." (assq-ref f 'libbpf-version)))
(test-assert "clang version" (string-contains (assq-ref f 'clang-version) "clang version"))
(test-eq "cached" f (bpf-features))
(test-assert "refresh probes again" (not (eq? f (bpf-features #:refresh? #t))))
(test-equal "bpf-feature" (assq-ref f 'btf) (bpf-feature 'btf))
;; The fentry probe is real: it agrees with whether the kernel loads a
;; trampoline program, and says why not.
(test-assert "fentry refusal carries its errno"
             (or (assq-ref f 'fentry) (symbol? (assq-ref f 'fentry-error))))
(test-equal "EBPF_CLANG is honoured" "/nonexistent/clang"
            (let* ((p (open-pipe* OPEN_READ "env" "EBPF_CLANG=/nonexistent/clang"
                                  "guile" "--no-auto-compile" "-c"
                                  "(use-modules (ebpf)) (display (bpf-feature 'clang))"))
                   (out (read-line p)))
              (close-pipe p)
              out))

(harness-end)
