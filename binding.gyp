{
  "targets": [
    {
      "target_name": "xen_domconfig",
      "sources": ["native/addon.cc", "native/connection.cc", "native/watcher.cc", "native/xenstore_api.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
