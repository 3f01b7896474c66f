;;; Every map kind of DESIGN §2 created in the kernel, with a round trip
;;; where user space may read and write it.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 match)
             (ice-9 rdelim) (ice-9 ftw))

(harness-begin "map-kinds" 'kernel)

(define (kernel-kind m)
  ;; What the kernel says it created, by bpf-maps.
  (let ((name (string-map (lambda (c) (if (char=? c #\-) #\_ c)) (bpf-map-name m))))
    (assq-ref (find (lambda (e) (equal? (assq-ref e 'name)
                                        (if (> (string-length name) 15)
                                            (substring name 0 15) name)))
                    (reverse (bpf-maps)))
              'kind)))

(define-syntax-rule (test-kind kind decl body ...)
  (let ((m decl))
    (test-assert (format #f "~a created" 'kind) (integer? (bpf-map-create! m)))
    (test-equal (format #f "~a is a ~a in the kernel" 'kind 'kind)
                (if (eq? 'kind 'histogram) 'per-cpu-array 'kind)
                (kernel-kind m))
    body ...))

(test-kind hash (defbpf-map k-hash #:kind 'hash #:key 'u64 #:value 'i32)
  (bpf-map-set! k-hash 7 -7)
  (test-equal "hash round trip" -7 (bpf-map-ref k-hash 7)))
(test-kind array (defbpf-map k-array #:kind 'array #:value 'u16 #:max-entries 3)
  (bpf-map-set! k-array 2 65535)
  (test-equal "array round trip" 65535 (bpf-map-ref k-array 2)))
(test-kind per-cpu-hash (defbpf-map k-pch #:kind 'per-cpu-hash #:key 'u32 #:value 'u64)
  (bpf-map-set! k-pch 1 9)
  (test-equal "per-cpu-hash round trip" 9 (vector-ref (bpf-map-ref k-pch 1) 0)))
(test-kind per-cpu-array (defbpf-map k-pca #:kind 'per-cpu-array #:value 'u64 #:max-entries 2)
  (bpf-map-set! k-pca 1 9)
  (test-equal "per-cpu-array round trip" 9 (vector-ref (bpf-map-ref k-pca 1) 0)))
(test-kind lru-hash (defbpf-map k-lru #:kind 'lru-hash #:key 'u32 #:value 'u32)
  (bpf-map-set! k-lru 1 2)
  (test-equal "lru-hash round trip" 2 (bpf-map-ref k-lru 1)))
(test-kind lru-per-cpu-hash (defbpf-map k-lpch #:kind 'lru-per-cpu-hash #:key 'u32 #:value 'u32)
  (bpf-map-set! k-lpch 1 2)
  (test-equal "lru-per-cpu-hash round trip" 2 (vector-ref (bpf-map-ref k-lpch 1) 0)))
(test-kind lpm-trie (defbpf-map k-lpm #:kind 'lpm-trie #:key '(prefix ipv4) #:value 'u8)
  (bpf-map-set! k-lpm "192.168.0.0/16" 1)
  (test-equal "lpm-trie round trip" 1 (bpf-map-ref k-lpm "192.168.3.4")))
(test-kind ringbuf (defbpf-map k-rb #:kind 'ringbuf #:max-entries 8192)
  (test-ebpf-error "ringbuf has no keys" 'ebpf-map-error ("k-rb") (bpf-map-ref k-rb 0)))
(test-kind perf-event-array (defbpf-map k-pea #:kind 'perf-event-array)
  (test-equal "perf-event-array sized to the CPUs" (vector-length (bpf-map-ref k-pch 1))
              (bpf-map-max-entries k-pea)))
(test-kind stack-trace (defbpf-map k-st #:kind 'stack-trace #:max-entries 128)
  (test-equal "stack-trace value is 127 frames" (* 8 127) (bpf-map-value-size k-st)))
(test-kind prog-array (defbpf-map k-pa #:kind 'prog-array #:max-entries 4)
  (test-equal "empty prog-array slot" #f (bpf-map-ref k-pa 0)))
(test-kind queue (defbpf-map k-q #:kind 'queue #:value 'u32 #:max-entries 4)
  (bpf-map-push! k-q 3)
  (test-equal "queue round trip" 3 (bpf-map-pop! k-q)))
(test-kind stack (defbpf-map k-s #:kind 'stack #:value 'u32 #:max-entries 4)
  (bpf-map-push! k-s 3)
  (test-equal "stack round trip" 3 (bpf-map-pop! k-s)))
(test-kind bloom-filter (defbpf-map k-bf #:kind 'bloom-filter #:value 'u64 #:max-entries 64)
  (bpf-map-push! k-bf 99)
  (test-assert "bloom round trip" (bpf-map-peek k-bf 99)))
(test-kind devmap (defbpf-map k-dm #:kind 'devmap #:max-entries 4)
  (bpf-map-set! k-dm 0 1)               ; ifindex 1: the loopback device
  (test-equal "devmap round trip" 1 (bpf-map-ref k-dm 0)))
(test-kind devmap-hash (defbpf-map k-dmh #:kind 'devmap-hash #:max-entries 4)
  (bpf-map-set! k-dmh 10 1)
  (test-equal "devmap-hash round trip" 1 (bpf-map-ref k-dmh 10)))
(test-kind cpumap (defbpf-map k-cm #:kind 'cpumap)
  (bpf-map-set! k-cm 0 192)             ; queue size of CPU 0's kthread
  (test-equal "cpumap round trip" 192 (bpf-map-ref k-cm 0)))
;; An xskmap slot takes an AF_XDP socket; anything else is refused by the
;; kernel, which names the reason.
(test-kind xskmap (defbpf-map k-xsk #:kind 'xskmap #:max-entries 4)
  (test-equal "xskmap value is a u32" 4 (bpf-map-value-size k-xsk))
  (test-ebpf-error "xskmap: a non-socket value" 'ebpf-map-error
                   ("ENOTSOCK") (bpf-map-set! k-xsk 0 1)))
(defbpf-map k-inner #:kind 'array #:value 'u32 #:max-entries 1)
(test-kind array-of-maps (defbpf-map k-aom #:kind 'array-of-maps #:inner-map k-inner
                            #:max-entries 2)
  (bpf-map-set! k-aom 0 k-inner)
  (test-assert "array-of-maps holds the inner map (its id)"
               (integer? (bpf-map-ref k-aom 0))))
(test-kind hash-of-maps (defbpf-map k-hom #:kind 'hash-of-maps #:key 'u32
                          #:inner-map "k-inner" #:max-entries 2)
  (bpf-map-set! k-hom 5 k-inner)
  (test-assert "hash-of-maps holds the inner map" (integer? (bpf-map-ref k-hom 5))))
(test-kind histogram (defbpf-map k-hist #:kind 'histogram)
  (test-equal "histogram buckets start at zero" 0 (bpf-map-ref/sum k-hist 10)))
(let ((h (defbpf-map k-khist #:kind 'histogram #:key 'u32)))
  (bpf-map-set! h '(7 . 3) 1)
  (test-equal "keyed histogram key is (KEY . BUCKET)" '((7 . 3))
              (map car (bpf-map->alist h))))

;; A cgroup-array slot is set from a cgroup2 directory path; the path is
;; user input, so each way it can be wrong is refused by name.
(define cgroup2-root (cgroup2-mount))
(define k-cg (format #f "~a/gebpf-map-kinds-~a" cgroup2-root (getpid)))
(unless (file-exists? k-cg) (mkdir k-cg))
(define (open-fds) (length (scandir "/proc/self/fd")))
(test-kind cgroup-array (defbpf-map k-cga #:kind 'cgroup-array #:max-entries 2)
  (let ((before (open-fds)))
    (do ((i 0 (+ i 1))) ((= i 20)) (bpf-map-set! k-cga 0 k-cg))
    (false-if-exception (bpf-map-set! k-cga 1 "/"))
    (test-equal "cgroup-array set from a path leaves no fd open" before
                (open-fds)))
  (test-ebpf-error "cgroup-array values are not read back" 'ebpf-map-error
                   ("k-cga" "does not return" "under-cgroup?")
                   (bpf-map-ref k-cga 0))
  (test-ebpf-error "cgroup-array: not a path" 'ebpf-validation-error
                   ("k-cga" "not 5") (bpf-map-set! k-cga 0 5))
  (test-ebpf-error "cgroup-array: a NUL byte in the path" 'ebpf-validation-error
                   ("NUL byte" "gebpf-map-kinds")
                   (bpf-map-set! k-cga 0 (string-append k-cg "\x00;/x")))
  (test-ebpf-error "cgroup-array: a missing path" 'ebpf-validation-error
                   ("/nonexistent-gebpf" "ENOENT")
                   (bpf-map-set! k-cga 0 "/nonexistent-gebpf"))
  (test-ebpf-error "cgroup-array: not a directory" 'ebpf-validation-error
                   ("/proc/self/status" "ENOTDIR")
                   (bpf-map-set! k-cga 0 "/proc/self/status"))
  (test-ebpf-error "cgroup-array: a directory outside cgroup2"
                   'ebpf-validation-error ("\"/proc\" is not a cgroup2")
                   (bpf-map-set! k-cga 0 "/proc"))
  (test-ebpf-error "cgroup-array: no batch set" 'ebpf-validation-error
                   ("k-cga" "one at a time")
                   (bpf-map-set-all! k-cga (list (cons 0 k-cg))))
  (test-ebpf-error "cgroup-array: index out of range" 'ebpf-map-error
                   ("k-cga" "0..1") (bpf-map-set! k-cga 2 k-cg))
  (test-equal "cgroup-array slot emptied" #t (bpf-map-delete! k-cga 0)))
(false-if-exception (rmdir k-cg))
(test-equal "every declared kind was tried"
            (length bpf-map-kinds) 22)

(harness-end)
