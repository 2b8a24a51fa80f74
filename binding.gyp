{
  "targets": [
    {
      "target_name": "moekit_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/addon_products.cc",
        "native/src/addon_slots.cc",
        "native/src/addon_layers.cc",
        "native/src/napi_args.cc",
        "native/src/weights.cc",
        "native/src/ops.cc",
        "native/src/threadpool.cc",
        "native/src/kernels_scalar.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
        "moekit_avx2",
        "moekit_avx512",
        "moekit_avx512bf16"
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
    }
  ]
}
