;;; (ebpf core) --- loads libguile-ebpf and exports its raw primitives.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Private: users import (ebpf), which wraps these.  Names with a %
;;; prefix are raw primitives wrapped by documented procedures elsewhere.
;;;
;;; This is the one door between the Scheme modules and the C core: every
;;; binding the extension defines is exported here, grouped by the C file
;;; that defines it, and the other modules import what they use with
;;; #:use-module (never @@).  tests/lint.scm checks both.

(define-module (ebpf core)
  #:export (;; type.c
            <bpf-type>
            bpf-type bpf-type-size bpf-type-align bpf-type-spec
            bpf-encode bpf-decode %bpf-type-zero %make-bpf-struct-type
            bpf-struct-layout %bpf-struct-field-specs
            ;; map.c
            <bpf-map>
            %make-bpf-map %bpf-map-info
            bpf-map? bpf-map-create! bpf-map-pin! bpf-map-unpin!
            bpf-map-close! bpf-map-lookup bpf-map-names bpf-map-open-pinned
            bpf-maps
            ;; map-io.c
            %bpf-map-fold %bpf-map-clear! %bpf-map-set-all!
            bpf-map-ref bpf-map-set! bpf-map-delete! bpf-map-contains?
            bpf-map-ref/sum bpf-map-push! bpf-map-pop! bpf-map-peek
            bpf-map-count
            ;; features.c
            %bpf-features %bpf-btf-functions %bpf-btf-enum
            ;; kernel/kinds.c
            %bpf-kind-table %bpf-map-kind-table
            ;; kernel/tracefs.c
            %bpf-tracefs %bpf-tracepoint-format
            ;; build.c
            %bpf-build-c %bpf-build-file %bpf-cache-dir %bpf-build-stats
            %bpf-clang-flags %bpf-vmlinux-header %bpf-sha256
            ;; pin.c
            %bpf-pin-dir-remove! %bpf-tc-filter-remove!
            ;; program.c
            <bpf-object>
            %bpf-object-load %bpf-object-close! %bpf-object? %bpf-test-run
            ;; object-info.c
            %bpf-enable-stats! %bpf-object-meta %bpf-object-info %bpf-programs
            ;; link.c
            <bpf-link>
            %bpf-link-update! %bpf-link-destroy! %bpf-link? %bpf-link-meta
            %bpf-link-tc-filters %bpf-links %bpf-detach-all!
            ;; attach.c
            %bpf-attach-tracepoint %bpf-attach-raw-tracepoint %bpf-attach-trace
            %bpf-attach-kprobe %bpf-attach-uprobe %bpf-attach-xdp %bpf-attach-tc
            %bpf-attach-cgroup %bpf-attach-perf-event %bpf-attach-socket
            %bpf-attach-usdt %bpf-uprobe-resolve %bpf-uprobe-symbols
            ;; bpffs.c
            %bpf-fd-pin! %bpf-pinned-info %bpf-map-release!
            ;; ringbuf.c
            <bpf-ringbuf-reader> <bpf-perf-reader>
            %bpf-ringbuf-control %bpf-record-type %bpf-ringbuf-open
            %bpf-ringbuf-take %bpf-ringbuf-reader-info %bpf-ringbuf-close!
            %bpf-perf-open %bpf-perf-take %bpf-perf-reader-info %bpf-perf-close!
            ;; symbols.c
            %bpf-symbolize %bpf-symbol
            ;; stacks.c
            %bpf-stack-key
            ;; lower/fn.c
            <bpf-fn> bpf-fn? %make-bpf-fn %bpf-fn-info %bpf-fn-lower
            %bpf-fn-maps %bpf-loc-marker %bpf-lower-btf-count))

(load-extension "libguile-ebpf" "gebpf_init")
