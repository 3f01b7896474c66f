;;; (ebpf core) --- loads libguile-ebpf and exports its raw primitives.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Private: users import (ebpf), which wraps these.  Names with a %
;;; prefix are raw primitives wrapped by documented procedures elsewhere.

(define-module (ebpf core)
  #:export (<bpf-type> <bpf-map>
            bpf-type bpf-type-size bpf-type-align bpf-type-spec
            bpf-encode bpf-decode %bpf-type-zero %make-bpf-struct-type
            bpf-struct-layout
            %make-bpf-map %bpf-map-info %bpf-map-fold %bpf-map-clear!
            %bpf-map-set-all!
            bpf-map? bpf-map-ref bpf-map-set! bpf-map-delete!
            bpf-map-contains? bpf-map-ref/sum bpf-map-push! bpf-map-pop!
            bpf-map-peek bpf-map-count bpf-map-create! bpf-map-pin!
            bpf-map-unpin! bpf-map-close! bpf-map-lookup bpf-map-names
            bpf-map-open-pinned bpf-maps
            %bpf-features %bpf-kind-table %bpf-map-kind-table
            <bpf-fn> bpf-fn? %make-bpf-fn %bpf-fn-info %bpf-fn-lower
            %bpf-fn-maps %bpf-loc-marker))

(load-extension "libguile-ebpf" "gebpf_init")
