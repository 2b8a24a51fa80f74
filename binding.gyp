{
  "targets": [
    {
      "target_name": "moekit_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/addon_products.cc",
        "native/src/addon_slots.cc",
        "native/src/addon_layers.cc",
        "native/src/addon_elementwise.cc",
        "native/src/addon_memory.cc",
        "native/src/napi_args.cc",
        "native/src/weights.cc",
        "native/src/ops.cc",
        "native/src/quant_products.cc",
        "native/src/threadpool.cc",
        "native/src/kernels_scalar.cc",
        "native/src/quant/dispatch.cc",
        "native/src/quant/addon_quant.cc",
        "native/src/quant/quantize.cc",
        "native/src/recurrent/dispatch.cc",
        "native/src/recurrent/addon_recurrent.cc",
        "native/src/mmap/addon_mmap.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
        "moekit_avx2",
        "moekit_avx512",
        "moekit_avx512bf16",
        "moekit_quant_scalar",
        "moekit_quant_avx2",
        "moekit_quant_avx512vnni",
        "moekit_quantize_scalar",
        "moekit_quantize_avx2",
        "moekit_recurrent_scalar",
        "moekit_recurrent_avx2",
        "moekit_recurrent_avx512"
      ],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags!": ["-fno-exceptions"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "OTHER_CPLUSPLUSFLAGS": ["-O3"] },
      "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } },
      "conditions": [
        ["OS=='linux'", { "libraries": ["-lpthread"] }]
      ]
    },
    {
      "target_name": "moekit_avx2",
      "type": "static_library",
      "sources": ["native/src/kernels_avx2.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fPIC", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", { "cflags_cc": ["-mavx2", "-mfma", "-mf16c"], "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx2", "-mfma", "-mf16c"] } }],
        ["target_arch=='x64' and OS=='win'", { "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "5" } } }]
      ]
    },
    {
      "target_name": "moekit_avx512",
      "type": "static_library",
      "sources": ["native/src/kernels_avx512.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fPIC", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", { "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mf16c"], "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mf16c"] } }],
        ["target_arch=='x64' and OS=='win'", { "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "7" } } }]
      ]
    },
    {
      "target_name": "moekit_avx512bf16",
      "type": "static_library",
      "sources": ["native/src/kernels_avx512bf16.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fPIC", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", { "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mfma", "-mf16c"], "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mfma", "-mf16c"] } }],
        ["target_arch=='x64' and OS=='win'", { "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "7" } } }]
      ]
    },
    {
      "target_name": "moekit_quant_scalar",
      "type": "static_library",
      "sources": ["native/src/quant/quant_scalar.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-ffp-contract=off", "-fPIC", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off"] }
    },
    {
      "target_name": "moekit_quant_avx2",
      "type": "static_library",
      "sources": ["native/src/quant/quant_avx2.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-ffp-contract=off", "-fPIC", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", { "cflags_cc": ["-mavx2", "-mfma", "-mf16c"], "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-mavx2", "-mfma", "-mf16c"] } }],
        ["target_arch=='x64' and OS=='win'", { "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "5" } } }]
      ]
    },
    {
      "target_name": "moekit_quant_avx512vnni",
      "type": "static_library",
      "sources": ["native/src/quant/quant_avx512vnni.cc", "native/src/quant/gemm_avx512vnni.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-ffp-contract=off", "-fPIC", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", { "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mfma", "-mf16c"], "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mfma", "-mf16c"] } }],
        ["target_arch=='x64' and OS=='win'", { "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "7" } } }]
      ]
    },
    {
      "target_name": "moekit_quantize_scalar",
      "type": "static_library",
      "sources": ["native/src/quant/quantize_scalar.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-ffp-contract=off", "-fno-trapping-math", "-fPIC"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-fno-trapping-math"] }
    },
    {
      "target_name": "moekit_quantize_avx2",
      "type": "static_library",
      "sources": ["native/src/quant/quantize_avx2.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-ffp-contract=off", "-fno-trapping-math", "-fPIC"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", { "cflags_cc": ["-mavx2"], "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-mavx2"] } }],
        ["target_arch=='x64' and OS=='win'", { "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "5" } } }]
      ]
    },
    {
      "target_name": "moekit_recurrent_scalar",
      "type": "static_library",
      "sources": ["native/src/recurrent/recurrent_scalar.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fPIC"]
    },
    {
      "target_name": "moekit_recurrent_avx2",
      "type": "static_library",
      "sources": ["native/src/recurrent/recurrent_avx2.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fPIC"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", { "cflags_cc": ["-mavx2", "-mfma", "-mf16c"], "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx2", "-mfma", "-mf16c"] } }],
        ["target_arch=='x64' and OS=='win'", { "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "5" } } }]
      ]
    },
    {
      "target_name": "moekit_recurrent_avx512",
      "type": "static_library",
      "sources": ["native/src/recurrent/recurrent_avx512.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fPIC"],
      "conditions": [
        ["target_arch=='x64' and OS!='win'", { "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mf16c", "-mprefer-vector-width=512"], "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mf16c", "-mprefer-vector-width=512"] } }],
        ["target_arch=='x64' and OS=='win'", { "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "7" } } }]
      ]
    }
  ]
}
