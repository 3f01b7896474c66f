;;; defbpf-map declarations: both spellings, the data-list rule, names,
;;; and every validation rule.  Declaring never touches the kernel.
(use-modules (harness) (ebpf) (srfi srfi-64))

(harness-begin "map-decl")

(define (decl form) (eval form (current-module)))

;; The tatara example, verbatim, default reader.
(defbpf-map
  :name "syn-counter"
  :kind :per-cpu-array
  :key-size 4 :value-size 8 :max-entries 1)
(test-assert "tatara spelling binds syn-counter" (bpf-map? syn-counter))
(test-equal "kind" 'per-cpu-array (bpf-map-kind syn-counter))
(test-equal "sizes" '(4 8 1) (list (bpf-map-key-size syn-counter)
                                   (bpf-map-value-size syn-counter)
                                   (bpf-map-max-entries syn-counter)))
(test-equal "not created by declaring" #f (bpf-map-fd syn-counter))
(test-eq "snake name finds it" syn-counter (bpf-map-lookup "syn_counter"))
(test-eq "symbol name finds it" syn-counter (bpf-map-lookup 'syn-counter))

;; The same with (read-set! keywords 'prefix): read from text.
(define (read-prefix text)
  (let ((old (read-options)))
    (dynamic-wind
      (lambda () (read-set! keywords 'prefix))
      (lambda () (with-input-from-string text read))
      (lambda () (read-options old)))))
(let ((form (read-prefix "(defbpf-map
  :name \"syn-counter-p\"
  :kind :per-cpu-array
  :key-size 4 :value-size 8 :max-entries 1)")))
  (test-assert "prefix reader: keywords are keywords" (keyword? (cadr form)))
  (let ((m (decl form)))
    (test-equal "prefix reader: kind" 'per-cpu-array (bpf-map-kind m))
    (test-eq "prefix reader: variable bound" m (decl 'syn-counter-p))))

;; Scheme spelling.
(defbpf-map counts #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 10240)
(test-equal "scheme spelling" "counts" (bpf-map-name counts))
(test-equal "key type" 'u32 (bpf-map-key-type counts))
(defbpf-map #:name "counts2" #:kind 'hash #:key-size 4 #:value-size 8 #:max-entries 10240)
(test-assert "#:name spelling binds" (bpf-map? counts2))
(test-equal "keyword kind" 'lru-hash
            (bpf-map-kind (decl '(defbpf-map k1 #:kind #:lru-hash #:key 'u32 #:value 'u32))))
(test-equal "symbol types need no quote when data" 'u32
            (bpf-map-key-type (decl '(defbpf-map k2 #:kind :hash #:key :u32 #:value :u64))))
(test-equal "evaluated arguments" 100
            (let ((n 100))
              (bpf-map-max-entries
               (decl `(defbpf-map k3 #:kind 'hash #:key 'u32 #:value 'u64
                        #:max-entries (* ,n 1))))))
(test-equal "data-list rule: list of a keyword head is data" '(no-prealloc)
            (bpf-map-flags (decl '(defbpf-map k4 #:kind 'hash #:key 'u32 #:value 'u32
                                    #:flags (:no-prealloc)))))
(test-equal "snake name binds both spellings" #t
            (begin (decl '(defbpf-map #:name "snake_map" #:kind 'hash #:key 'u32 #:value 'u32))
                   (eq? (decl 'snake_map) (decl 'snake-map))))
(test-equal "computed name bound at run time" "dyn-map"
            (let ((n (string-append "dyn" "-map")))
              (decl `(defbpf-map #:name ,n #:kind 'hash #:key 'u32 #:value 'u32))
              (bpf-map-name (decl 'dyn-map))))
(test-equal "histogram needs nothing else" '(per-cpu-array-like 65 8)
            (let ((h (decl '(defbpf-map lat #:kind 'histogram))))
              (list 'per-cpu-array-like (bpf-map-max-entries h) (bpf-map-value-size h))))
(test-equal "keyed histogram" '(u32 8)
            (let ((h (decl '(defbpf-map lat2 #:kind 'histogram #:key 'u32))))
              (list (bpf-map-key-type h) (bpf-map-key-size h))))
(test-equal "ringbuf record type" 'u64
            (bpf-map-record-type (decl '(defbpf-map rb #:kind 'ringbuf #:value 'u64
                                          #:max-entries 4096))))
(test-equal "ringbuf default size" (* 256 1024)
            (bpf-map-max-entries (decl '(defbpf-map rb2 #:kind 'ringbuf))))
(test-equal "lpm gets no-prealloc" '(no-prealloc)
            (bpf-map-flags (decl '(defbpf-map blk #:kind 'lpm-trie
                                    #:key '(prefix ipv4) #:value 'u32))))
(test-equal "doc kept" "count things"
            (bpf-map-doc (decl '(defbpf-map k5 #:kind 'hash #:key 'u32 #:value 'u32
                                  #:doc "count things"))))
(test-equal "printer" "#<bpf-map counts hash key:4 value:8 fd:->"
            (object->string counts))
(test-assert "names listed" (member "counts" (bpf-map-names)))

;; Validation: each rule, with the culprit named.
(test-ebpf-error "no kind" 'ebpf-validation-error ("m1" "#:kind")
                 (decl '(defbpf-map m1 #:key 'u32 #:value 'u32)))
(test-ebpf-error "unknown kind lists the kinds" 'ebpf-validation-error
                 ("hashy" "per-cpu-hash" "lpm-trie")
                 (decl '(defbpf-map m2 #:kind 'hashy #:key 'u32 #:value 'u32)))
(test-ebpf-error "key-size disagrees with key" 'ebpf-validation-error
                 ("m3" "#:key-size 8")
                 (decl '(defbpf-map m3 #:kind 'hash #:key 'u32 #:key-size 8 #:value 'u32)))
(test-ebpf-error "value-size disagrees with value" 'ebpf-validation-error
                 ("m3b" "#:value-size 2")
                 (decl '(defbpf-map m3b #:kind 'hash #:key 'u32 #:value 'u32 #:value-size 2)))
(test-ebpf-error "max-entries 0" 'ebpf-validation-error ("m4" "max-entries")
                 (decl '(defbpf-map m4 #:kind 'hash #:key 'u32 #:value 'u32 #:max-entries 0)))
(test-ebpf-error "max-entries not integer" 'ebpf-validation-error ("m4b")
                 (decl '(defbpf-map m4b #:kind 'hash #:key 'u32 #:value 'u32 #:max-entries "10")))
(test-ebpf-error "ringbuf not a power of two" 'ebpf-validation-error
                 ("m5" "power of two")
                 (decl '(defbpf-map m5 #:kind 'ringbuf #:max-entries 12288)))
(test-ebpf-error "ringbuf smaller than a page" 'ebpf-validation-error
                 ("m5b" "page")
                 (decl '(defbpf-map m5b #:kind 'ringbuf #:max-entries 1024)))
(test-ebpf-error "ringbuf with a key" 'ebpf-validation-error ("m6" "no key")
                 (decl '(defbpf-map m6 #:kind 'ringbuf #:key 'u32)))
(test-ebpf-error "queue with a key" 'ebpf-validation-error ("m6b" "no key")
                 (decl '(defbpf-map m6b #:kind 'queue #:key-size 4 #:value 'u32)))
(test-ebpf-error "lpm key not a prefix" 'ebpf-validation-error ("m7" "prefix")
                 (decl '(defbpf-map m7 #:kind 'lpm-trie #:key 'u32 #:value 'u32)))
(test-ebpf-error "array key not 4 bytes" 'ebpf-validation-error ("m8" "4-byte")
                 (decl '(defbpf-map m8 #:kind 'array #:key 'u64 #:value 'u32)))
(test-ebpf-error "hash without key" 'ebpf-validation-error ("m9" "no key")
                 (decl '(defbpf-map m9 #:kind 'hash #:value 'u32)))
(test-ebpf-error "hash without value" 'ebpf-validation-error ("m10" "no value")
                 (decl '(defbpf-map m10 #:kind 'hash #:key 'u32)))
(test-ebpf-error "unknown key type" 'ebpf-validation-error ("m11" "u128")
                 (decl '(defbpf-map m11 #:kind 'hash #:key 'u128 #:value 'u32)))
(test-ebpf-error "map of maps needs inner" 'ebpf-validation-error ("m12" "inner-map")
                 (decl '(defbpf-map m12 #:kind 'array-of-maps)))
(test-ebpf-error "inner-map on a hash" 'ebpf-validation-error ("m13" "inner-map")
                 (decl '(defbpf-map m13 #:kind 'hash #:key 'u32 #:value 'u32 #:inner-map counts)))
(test-ebpf-error "unknown flag" 'ebpf-validation-error ("turbo" "no-prealloc")
                 (decl '(defbpf-map m14 #:kind 'hash #:key 'u32 #:value 'u32 #:flags '(turbo))))
(test-ebpf-error "histogram with value" 'ebpf-validation-error ("m15" "#:value")
                 (decl '(defbpf-map m15 #:kind 'histogram #:value 'u32)))
(test-ebpf-error "unknown field" 'ebpf-validation-error ("#:colour" "#:max-entries")
                 (decl '(defbpf-map m16 #:kind 'hash #:colour 'red)))
(test-ebpf-error "field without value" 'ebpf-validation-error ("#:kind" "no value")
                 (decl '(defbpf-map m17 #:key 'u32 #:kind)))
(test-ebpf-error "not a keyword" 'ebpf-validation-error ("expected a keyword")
                 (decl '(defbpf-map m18 kind 'hash)))
(test-ebpf-error "no name" 'ebpf-validation-error ("no name")
                 (decl '(defbpf-map #:kind 'hash #:key 'u32 #:value 'u32)))
(test-ebpf-error "name that would inject C" 'ebpf-validation-error
                 ("not a valid identifier")
                 (decl '(defbpf-map #:name "x; int y" #:kind 'hash #:key 'u32 #:value 'u32)))
(test-ebpf-error "name starting with a digit" 'ebpf-validation-error
                 ("1abc")
                 (decl '(defbpf-map #:name "1abc" #:kind 'hash #:key 'u32 #:value 'u32)))
(test-ebpf-error "name of wrong type" 'ebpf-validation-error ("42")
                 (decl '(defbpf-map #:name 42 #:kind 'hash #:key 'u32 #:value 'u32)))
(test-ebpf-error "pin-path not a string" 'ebpf-validation-error ("pin-path")
                 (decl '(defbpf-map m19 #:kind 'hash #:key 'u32 #:value 'u32 #:pin-path 7)))
(test-ebpf-error "map I/O on an unknown name" 'ebpf-map-error ("no-such-map")
                 (bpf-map-ref "no-such-map" 1))
(test-ebpf-error "map I/O on a non-map" 'ebpf-validation-error ("not a map")
                 (bpf-map-ref 42 1))
(test-assert "failed declarations left nothing registered"
             (not (bpf-map-lookup "m2")))

(harness-end)
