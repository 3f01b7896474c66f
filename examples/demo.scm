;;; demo.scm --- guile-ebpf in one minute: typed kernel maps from Scheme.
;;;
;;; Shows: declaring maps and a struct type, writing and reading live
;;; kernel maps with typed keys (IPv4 prefixes, structs), per-CPU values,
;;; a bulk load, a fold, and what this kernel can do.
;;;
;;; Run (as root):  ./pre-inst-env guile -s examples/demo.scm
;;; It exits by itself in well under a second.

(use-modules (ebpf) (ice-9 format))

(define (section title) (format #t "~%== ~a ==~%" title))

(section "This system")
(let ((f (bpf-features)))
  (format #t "kernel ~a, BTF ~a, ring buffers ~a, libbpf ~a~%"
          (assq-ref f 'kernel-release) (if (assq-ref f 'btf) "yes" "no")
          (if (assq-ref f 'ringbuf) "yes" "no") (assq-ref f 'libbpf-version))
  (format #t "fentry: ~a~%"
          (if (assq-ref f 'fentry) "yes"
              (format #f "refused by this kernel (~a)" (assq-ref f 'fentry-error)))))

;; A blocklist of networks, as an XDP firewall would use it.
(defbpf-map blocklist
  #:kind 'lpm-trie #:key '(prefix ipv4) #:value 'u32 #:max-entries 1024
  #:doc "Blocked networks and why (reason code).")

;; Flows keyed by a C struct shared with BPF code.
(defbpf-struct flow (saddr ipv4) (daddr ipv4) (dport be16) (proto u8))
(defbpf-map flows #:kind 'hash #:key 'flow #:value 'u64 #:max-entries 4096)

;; The tatara-style declaration works verbatim too.
(defbpf-map
  :name "syn-counter"
  :kind :per-cpu-array
  :key-size 4 :value-size 8 :max-entries 1)

(section "Maps")
(for-each (lambda (m) (format #t "~a~%" m)) (list blocklist flows syn-counter))

(section "Longest-prefix match in the kernel")
(bpf-map-set-all! blocklist '(("10.0.0.0/8" . 1) ("10.66.0.0/16" . 2)
                              ("192.0.2.0/24" . 3)))
(for-each (lambda (addr)
            (format #t "~15a -> ~a~%" addr
                    (or (bpf-map-ref blocklist addr) "allowed")))
          '("10.1.2.3" "10.66.7.8" "192.0.2.77" "198.51.100.1"))

(section "Struct keys")
(for-each (lambda (i)
            (bpf-map-set! flows (make-flow #:saddr (format #f "10.0.0.~a" (+ 1 (modulo i 3)))
                                           #:daddr "192.0.2.1" #:dport 443 #:proto 6)
                          (* 100 (+ i 1))))
          (iota 3))
(for-each (lambda (e)
            (format #t "@[~a:~a -> ~a]: ~a~%"
                    (flow-saddr (car e)) (flow-dport (car e)) (flow-daddr (car e))
                    (cdr e)))
          (sort (bpf-map->alist flows) (lambda (a b) (> (cdr a) (cdr b)))))
(format #t "total bytes: ~a~%" (bpf-map-fold (lambda (k v acc) (+ v acc)) 0 flows))

(section "Per-CPU counters")
(bpf-map-set! syn-counter 0 (list->vector (iota (vector-length (bpf-map-ref syn-counter 0)) 1)))
(format #t "per CPU: ~a, sum: ~a~%" (bpf-map-ref syn-counter 0) (bpf-map-ref/sum syn-counter 0))

(section "Errors name the culprit and say how to fix it")
(catch #t
  (lambda () (bpf-map-set! flows (make-flow #:dport 70000) 1))
  (lambda (key . args)
    (format #t "~a: ~a~%" key (ebpf-error-message args))))
