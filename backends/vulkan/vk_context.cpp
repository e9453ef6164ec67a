#include "vulkan/vk_context.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <sys/stat.h>

#include "util/log.h"

namespace gemma12b::vk {

Status vk_status(VkResult r, const char* what) {
  switch (r) {
    case VK_SUCCESS: return OkStatus();
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      return absl::ResourceExhaustedError(absl::StrFormat("vulkan: %s: out of host memory", what));
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return absl::ResourceExhaustedError(absl::StrFormat("vulkan: %s: out of device memory", what));
    case VK_ERROR_DEVICE_LOST:
      return absl::UnavailableError(absl::StrFormat("vulkan: %s: device lost", what));
    default: return Internal("vulkan: %s failed (VkResult %d)", what, static_cast<int>(r));
  }
}

#define VK_TRY(call, what)                                   \
  do {                                                       \
    const VkResult vk_try_r_ = (call);                       \
    if (vk_try_r_ != VK_SUCCESS) return vk_status(vk_try_r_, what); \
  } while (0)

VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                VkDebugUtilsMessageTypeFlagsEXT,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                void* user) {
  if ((severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) != 0 && data != nullptr) {
    auto* ctx = static_cast<Context*>(user);
    const std::string msg = data->pMessage != nullptr ? data->pMessage : "(no message)";
    log_message(LogLevel::kError, "vulkan validation: " + msg);
    std::lock_guard<std::mutex> lock(ctx->validation_mu_);
    if (ctx->validation_errors_.size() < 4096) ctx->validation_errors_ += msg + "\n";
  }
  return VK_FALSE;
}

namespace {

bool has_layer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (const auto& l : layers) {
    if (std::strcmp(l.layerName, name) == 0) return true;
  }
  return false;
}

bool has_instance_extension(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateInstanceExtensionProperties(nullptr, &n, exts.data());
  for (const auto& e : exts) {
    if (std::strcmp(e.extensionName, name) == 0) return true;
  }
  // Extensions of implicitly enabled layers (VK_INSTANCE_LAYERS) are listed per layer.
  if (const char* env = std::getenv("VK_INSTANCE_LAYERS"); env != nullptr && *env != '\0') {
    n = 0;
    vkEnumerateInstanceExtensionProperties("VK_LAYER_KHRONOS_validation", &n, nullptr);
    exts.resize(n);
    vkEnumerateInstanceExtensionProperties("VK_LAYER_KHRONOS_validation", &n, exts.data());
    for (const auto& e : exts) {
      if (std::strcmp(e.extensionName, name) == 0) return true;
    }
  }
  return false;
}

int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string default_cache_path(const VkPhysicalDeviceProperties& p) {
  if (const char* env = std::getenv("GEMMA12B_VULKAN_PIPELINE_CACHE"); env != nullptr) return env;
  std::string dir;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    dir = x;
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    dir = std::string(h) + "/.cache";
  } else {
    return {};
  }
  return absl::StrFormat("%s/gemma12b/vulkan-pipelines-%04x-%04x-%08x.bin", dir, p.vendorID,
                         p.deviceID, p.driverVersion);
}

}  // namespace

StatusOr<std::shared_ptr<Context>> Context::create(const DeviceOptions& options) {
  std::shared_ptr<Context> ctx(new Context());
  G12_RETURN_IF_ERROR(ctx->init(options));
  return ctx;
}

Status Context::init(const DeviceOptions& options) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "gemma12b";
  app.pEngineName = "gemma12b";
  // Ask for 1.3 where the loader has it (1.2/1.3 features are then core); 1.1 is the minimum.
  uint32_t loader_version = VK_API_VERSION_1_0;
  if (vkEnumerateInstanceVersion(&loader_version) != VK_SUCCESS) loader_version = VK_API_VERSION_1_0;
  app.apiVersion = std::min<uint32_t>(std::max<uint32_t>(loader_version, VK_API_VERSION_1_1), VK_API_VERSION_1_3);
  std::vector<const char*> layers, exts;
  const char* want_validation = std::getenv("GEMMA12B_VULKAN_VALIDATION");
  if (want_validation != nullptr && std::strcmp(want_validation, "1") == 0) {
    if (has_layer("VK_LAYER_KHRONOS_validation")) {
      layers.push_back("VK_LAYER_KHRONOS_validation");
    } else {
      log_warn("vulkan: GEMMA12B_VULKAN_VALIDATION=1 but VK_LAYER_KHRONOS_validation is not installed");
    }
  }
  const bool debug_utils = has_instance_extension(VK_EXT_DEBUG_UTILS_EXTENSION_NAME) ||
                           (!layers.empty());
  if (debug_utils) exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  ici.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ici.ppEnabledLayerNames = layers.data();
  ici.enabledExtensionCount = static_cast<uint32_t>(exts.size());
  ici.ppEnabledExtensionNames = exts.data();
  VkResult r = vkCreateInstance(&ici, nullptr, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED) {
    return absl::UnavailableError("vulkan: no Vulkan driver (vkCreateInstance failed)");
  }
  VK_TRY(r, "vkCreateInstance");
  if (debug_utils) {
    auto create_messenger = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
    if (create_messenger != nullptr) {
      VkDebugUtilsMessengerCreateInfoEXT mci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
      mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
      mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
      mci.pfnUserCallback = &on_debug_message;
      mci.pUserData = this;
      create_messenger(instance, &mci, nullptr, &messenger_);
    }
  }

  // ---- physical device ----
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(instance, &n, nullptr);
  if (n == 0) return absl::UnavailableError("vulkan: no Vulkan device found");
  std::vector<VkPhysicalDevice> devs(n);
  VK_TRY(vkEnumeratePhysicalDevices(instance, &n, devs.data()), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDeviceProperties> all(n);
  std::string listing;
  for (uint32_t i = 0; i < n; ++i) {
    vkGetPhysicalDeviceProperties(devs[i], &all[i]);
    listing += absl::StrFormat("%s%d: %s", i ? ", " : "", i, all[i].deviceName);
  }
  int pick = -1;
  const char* env = std::getenv("GEMMA12B_VULKAN_DEVICE");
  if (env != nullptr && *env != '\0') {
    const std::string e(env);
    if (std::all_of(e.begin(), e.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      pick = std::atoi(env);
      if (pick >= static_cast<int>(n)) {
        return InvalidArgument("vulkan: GEMMA12B_VULKAN_DEVICE=%d but there are %d devices (%s)", pick, n, listing);
      }
    } else {
      for (uint32_t i = 0; i < n && pick < 0; ++i) {
        if (lower(all[i].deviceName).find(lower(e)) != std::string::npos) pick = static_cast<int>(i);
      }
      if (pick < 0) return NotFound("vulkan: no device name contains '%s' (devices: %s)", e, listing);
    }
  } else if (options.device_index >= 0) {
    if (options.device_index >= static_cast<int>(n)) {
      return InvalidArgument("vulkan: device index %d but there are %d devices (%s)", options.device_index, n, listing);
    }
    pick = options.device_index;
  } else {
    for (uint32_t i = 0; i < n; ++i) {
      if (pick < 0 || type_rank(all[i].deviceType) < type_rank(all[pick].deviceType)) pick = static_cast<int>(i);
    }
  }
  physical = devs[pick];
  props = all[pick];
  name = props.deviceName;
  if (props.apiVersion < VK_API_VERSION_1_1) {
    return absl::UnavailableError(absl::StrFormat("vulkan: %s supports only Vulkan %d.%d; 1.1 is needed", name,
                                                  VK_VERSION_MAJOR(props.apiVersion), VK_VERSION_MINOR(props.apiVersion)));
  }
  VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  m3.pNext = &sg;
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &m3;
  vkGetPhysicalDeviceProperties2(physical, &p2);
  max_allocation = m3.maxMemoryAllocationSize;
  const char* no_sg = std::getenv("GEMMA12B_VULKAN_NO_SUBGROUPS");
  subgroups = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0 &&
              (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) != 0 &&
              sg.subgroupSize >= 1 && sg.subgroupSize <= 64 &&
              !(no_sg != nullptr && std::strcmp(no_sg, "1") == 0);
  vkGetPhysicalDeviceMemoryProperties(physical, &mem_props);
  for (uint32_t i = 0; i < mem_props.memoryHeapCount; ++i) {
    if (mem_props.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) {
      device_heap = std::max(device_heap, mem_props.memoryHeaps[i].size);
    }
  }
  if (props.limits.maxPushConstantsSize < kPushBytes) {
    return absl::UnavailableError(absl::StrFormat("vulkan: %s has %d bytes of push constants; %d needed", name,
                                                  props.limits.maxPushConstantsSize, kPushBytes));
  }

  // ---- queue and logical device ----
  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, qf.data());
  int family = -1;
  for (uint32_t i = 0; i < nq && family < 0; ++i) {
    if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = static_cast<int>(i);
  }
  if (family < 0) return absl::UnavailableError(absl::StrFormat("vulkan: %s has no compute queue", name));
  queue_family = static_cast<uint32_t>(family);
  const float prio = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = queue_family;
  qci.queueCount = 1;
  qci.pQueuePriorities = &prio;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;

  // ---- optional features: f16 arithmetic + 16-bit storage, integer dot products ----
  // Each is queried (and enabled) through its core struct when the device's version has it,
  // else through its extension. Only the members we use are switched on.
  const uint32_t version = std::min(app.apiVersion, props.apiVersion);
  uint32_t next = 0;
  vkEnumerateDeviceExtensionProperties(physical, nullptr, &next, nullptr);
  std::vector<VkExtensionProperties> dev_exts(next);
  vkEnumerateDeviceExtensionProperties(physical, nullptr, &next, dev_exts.data());
  auto has_ext = [&](const char* e) {
    for (const VkExtensionProperties& x : dev_exts) {
      if (std::strcmp(x.extensionName, e) == 0) return true;
    }
    return false;
  };
  std::vector<const char*> enable_exts;
  VkPhysicalDeviceShaderFloat16Int8Features f16i8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceShaderIntegerDotProductFeatures idot{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  void** tail = &f2.pNext;
  auto chain = [&](auto* s) {
    *tail = s;
    tail = &s->pNext;
  };
  chain(&s16);  // core in 1.1
  const bool f16i8_ok = version >= VK_API_VERSION_1_2 || has_ext(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  const bool idot_ok = version >= VK_API_VERSION_1_3 || has_ext(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
  if (f16i8_ok) chain(&f16i8);
  if (idot_ok) chain(&idot);
  vkGetPhysicalDeviceFeatures2(physical, &f2);
  auto env_off = [](const char* var) {
    const char* v = std::getenv(var);
    return v != nullptr && std::strcmp(v, "1") == 0;
  };
  exact = options.exact_matmul;
  if (const char* e = std::getenv("GEMMA12B_VULKAN_LOSE_DEVICE_AFTER"); e != nullptr && *e != '\0') {
    lose_after = std::strtoll(e, nullptr, 10);
  }
  fp16 = f16i8_ok && f16i8.shaderFloat16 && s16.storageBuffer16BitAccess && !env_off("GEMMA12B_VULKAN_NO_FP16");
  int_dot = idot_ok && idot.shaderIntegerDotProduct && !env_off("GEMMA12B_VULKAN_NO_INT_DOT");
  // What the matmuls will actually use (DeviceCaps: features in use, not merely present).
  caps.fp16 = fp16 && !exact;
  caps.int_dot = int_dot && !exact;
  // Enable exactly what the shaders will use.
  VkPhysicalDevice16BitStorageFeatures s16_on{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceShaderFloat16Int8Features f16_on{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDeviceShaderIntegerDotProductFeatures idot_on{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
  VkPhysicalDeviceFeatures2 on{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  tail = &on.pNext;
  if (fp16) {
    s16_on.storageBuffer16BitAccess = VK_TRUE;
    f16_on.shaderFloat16 = VK_TRUE;
    chain(&s16_on);
    chain(&f16_on);
    if (version < VK_API_VERSION_1_2) enable_exts.push_back(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  }
  if (int_dot) {
    idot_on.shaderIntegerDotProduct = VK_TRUE;
    chain(&idot_on);
    if (version < VK_API_VERSION_1_3) enable_exts.push_back(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
  }
  dci.pNext = &on;
  dci.enabledExtensionCount = static_cast<uint32_t>(enable_exts.size());
  dci.ppEnabledExtensionNames = enable_exts.data();
  VK_TRY(vkCreateDevice(physical, &dci, nullptr, &device), "vkCreateDevice");
  vkGetDeviceQueue(device, queue_family, 0, &queue);

  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = queue_family;
  VK_TRY(vkCreateCommandPool(device, &pci, nullptr, &transfer_pool_), "vkCreateCommandPool");
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VK_TRY(vkCreateFence(device, &fci, nullptr, &transfer_fence_), "vkCreateFence");
  G12_ASSIGN_OR_RETURN(staging_, allocate(16u << 20, /*host_visible=*/true));
  G12_ASSIGN_OR_RETURN(dummy, allocate(16, /*host_visible=*/false));
  G12_RETURN_IF_ERROR(init_pipelines());
  log_info("vulkan backend: %s (%s), device-local heap %d MiB, max allocation %d MiB, max binding %d MiB%s%s%s%s",
           name, props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? "CPU device" : "GPU",
           static_cast<int64_t>(device_heap >> 20), static_cast<int64_t>(max_allocation >> 20),
           static_cast<int64_t>(props.limits.maxStorageBufferRange >> 20),
           subgroups ? ", subgroup reductions" : "", fp16 ? ", f16 arithmetic" : "",
           int_dot ? ", integer dot products" : "", exact ? ", exact (f32-activation) matmuls" : "");
  return OkStatus();
}

Status Context::init_pipelines() {
  VkDescriptorSetLayoutBinding b[kBindings];
  for (int i = 0; i < kBindings; ++i) {
    b[i] = VkDescriptorSetLayoutBinding{};
    b[i].binding = static_cast<uint32_t>(i);
    b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    b[i].descriptorCount = 1;
    b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo lci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  lci.bindingCount = kBindings;
  lci.pBindings = b;
  VK_TRY(vkCreateDescriptorSetLayout(device, &lci, nullptr, &set_layout), "vkCreateDescriptorSetLayout");
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes};
  VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  plci.setLayoutCount = 1;
  plci.pSetLayouts = &set_layout;
  plci.pushConstantRangeCount = 1;
  plci.pPushConstantRanges = &range;
  VK_TRY(vkCreatePipelineLayout(device, &plci, nullptr, &pipeline_layout), "vkCreatePipelineLayout");

  // Pipeline cache: a file that does not exist, cannot be read or is rejected by the driver is a
  // cache miss, never an error.
  cache_path_ = default_cache_path(props);
  std::vector<char> data;
  if (!cache_path_.empty()) {
    std::ifstream in(cache_path_, std::ios::binary);
    if (in) data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  VkPipelineCacheCreateInfo cci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  // The header (length, version, vendor, device, UUID) is checked here too: drivers are required
  // to ignore mismatched data, but a truncated header is worth not handing over at all.
  if (data.size() >= 32) {
    uint32_t hdr[4];
    std::memcpy(hdr, data.data(), sizeof(hdr));
    if (hdr[0] >= 32 && hdr[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && hdr[2] == props.vendorID &&
        hdr[3] == props.deviceID && std::memcmp(data.data() + 16, props.pipelineCacheUUID, VK_UUID_SIZE) == 0) {
      cci.initialDataSize = data.size();
      cci.pInitialData = data.data();
    }
  }
  if (vkCreatePipelineCache(device, &cci, nullptr, &cache_) != VK_SUCCESS) {
    cci.initialDataSize = 0;
    cci.pInitialData = nullptr;
    VK_TRY(vkCreatePipelineCache(device, &cci, nullptr, &cache_), "vkCreatePipelineCache");
  }
  return OkStatus();
}

void Context::save_pipeline_cache() {
  if (cache_ == VK_NULL_HANDLE || cache_path_.empty() || pipelines_.empty()) return;
  size_t n = 0;
  if (vkGetPipelineCacheData(device, cache_, &n, nullptr) != VK_SUCCESS || n == 0) return;
  std::vector<char> data(n);
  if (vkGetPipelineCacheData(device, cache_, &n, data.data()) != VK_SUCCESS) return;
  const size_t slash = cache_path_.rfind('/');
  if (slash != std::string::npos) {
    // mkdir -p of the cache directory
    const std::string dir = cache_path_.substr(0, slash);
    for (size_t i = 1; i <= dir.size(); ++i) {
      if (i == dir.size() || dir[i] == '/') (void)::mkdir(dir.substr(0, i).c_str(), 0755);
    }
  }
  const std::string tmp = cache_path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return;
    out.write(data.data(), static_cast<std::streamsize>(n));
    if (!out) return;
  }
  if (std::rename(tmp.c_str(), cache_path_.c_str()) != 0) std::remove(tmp.c_str());
}

Context::~Context() {
  if (device != VK_NULL_HANDLE) {
    vkDeviceWaitIdle(device);
    save_pipeline_cache();
    for (auto& [name_, p] : pipelines_) vkDestroyPipeline(device, p, nullptr);
    if (cache_ != VK_NULL_HANDLE) vkDestroyPipelineCache(device, cache_, nullptr);
    if (pipeline_layout != VK_NULL_HANDLE) vkDestroyPipelineLayout(device, pipeline_layout, nullptr);
    if (set_layout != VK_NULL_HANDLE) vkDestroyDescriptorSetLayout(device, set_layout, nullptr);
    release(staging_);
    release(dummy);
    if (transfer_fence_ != VK_NULL_HANDLE) vkDestroyFence(device, transfer_fence_, nullptr);
    if (transfer_pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(device, transfer_pool_, nullptr);
    vkDestroyDevice(device, nullptr);
  }
  if (messenger_ != VK_NULL_HANDLE) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy != nullptr) destroy(instance, messenger_, nullptr);
  }
  if (instance != VK_NULL_HANDLE) vkDestroyInstance(instance, nullptr);
}

int Context::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags want,
                              VkMemoryPropertyFlags avoid) const {
  for (uint32_t i = 0; i < mem_props.memoryTypeCount; ++i) {
    const VkMemoryPropertyFlags f = mem_props.memoryTypes[i].propertyFlags;
    if ((type_bits & (1u << i)) && (f & want) == want && (f & avoid) == 0) return static_cast<int>(i);
  }
  return -1;
}

StatusOr<Memory> Context::allocate(VkDeviceSize bytes, bool host_visible) {
  // Rounded up to 16 bytes so shaders may read whole 32-bit words at the end of any tensor.
  const VkDeviceSize size = std::max<VkDeviceSize>(16, (bytes + 15) & ~VkDeviceSize{15});
  if (bytes > max_allocation || size > max_allocation || (device_heap != 0 && size > device_heap)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "vulkan: a buffer of %d bytes exceeds %s's limits (max allocation %d bytes, device heap %d bytes)",
        static_cast<uint64_t>(bytes), name, static_cast<uint64_t>(max_allocation), static_cast<uint64_t>(device_heap)));
  }
  Memory m;
  m.size = size;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VK_TRY(vkCreateBuffer(device, &bci, nullptr, &m.buffer), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, m.buffer, &req);
  int type = -1;
  const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  if (host_visible) {
    type = find_memory_type(req.memoryTypeBits, hv | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
    if (type < 0) type = find_memory_type(req.memoryTypeBits, hv, 0);
  } else {
    // Device-local. On a discrete GPU, plain VRAM first (a host-visible device-local type is
    // usually the small BAR window); elsewhere (integrated GPUs, lavapipe) a host-visible
    // device-local type, which is then mapped and written without staging.
    const bool discrete = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
    if (discrete) {
      type = find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
    } else {
      type = find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | hv, 0);
    }
    if (type < 0) type = find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
    if (type < 0) type = find_memory_type(req.memoryTypeBits, 0, 0);
  }
  if (type < 0) {
    vkDestroyBuffer(device, m.buffer, nullptr);
    return Internal("vulkan: no memory type for a %s buffer", host_visible ? "host-visible" : "device");
  }
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = static_cast<uint32_t>(type);
  const VkResult r = vkAllocateMemory(device, &mai, nullptr, &m.memory);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(device, m.buffer, nullptr);
    return vk_status(r, absl::StrFormat("allocating %d bytes", static_cast<uint64_t>(size)).c_str());
  }
  VK_TRY(vkBindBufferMemory(device, m.buffer, m.memory, 0), "vkBindBufferMemory");
  if ((mem_props.memoryTypes[type].propertyFlags & hv) == hv) {
    VK_TRY(vkMapMemory(device, m.memory, 0, VK_WHOLE_SIZE, 0, &m.mapped), "vkMapMemory");
  }
  allocated += size;
  return m;
}

void Context::release(Memory& m) {
  if (m.buffer != VK_NULL_HANDLE) vkDestroyBuffer(device, m.buffer, nullptr);
  if (m.memory != VK_NULL_HANDLE) {
    vkFreeMemory(device, m.memory, nullptr);
    allocated -= m.size;
  }
  m = Memory{};
}

Status Context::run_commands(const std::function<void(VkCommandBuffer)>& fill) {
  if (lost) return absl::UnavailableError("vulkan: device lost");
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = transfer_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cmd;
  VK_TRY(vkAllocateCommandBuffers(device, &ai, &cmd), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vkBeginCommandBuffer(cmd, &bi);
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1, &mb, 0,
                       nullptr, 0, nullptr);
  fill(cmd);
  mb.dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                       0, 1, &mb, 0, nullptr, 0, nullptr);
  vkEndCommandBuffer(cmd);
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  VkResult r = vkQueueSubmit(queue, 1, &si, transfer_fence_);
  if (r == VK_SUCCESS) r = vkWaitForFences(device, 1, &transfer_fence_, VK_TRUE, UINT64_MAX);
  vkResetFences(device, 1, &transfer_fence_);
  vkFreeCommandBuffers(device, transfer_pool_, 1, &cmd);
  if (r == VK_ERROR_DEVICE_LOST) lost = true;
  return vk_status(r, "transfer");
}

void Context::add_stream(StreamBase* s) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  streams_.push_back(s);
}

void Context::remove_stream(StreamBase* s) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  streams_.erase(std::remove(streams_.begin(), streams_.end(), s), streams_.end());
}

Status Context::flush_streams() {
  for (StreamBase* s : streams_) s->flush();
  return lost ? absl::UnavailableError("vulkan: device lost") : OkStatus();
}

Status Context::write(Memory& m, VkDeviceSize offset, const void* src, size_t n) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  G12_RETURN_IF_ERROR(flush_streams());
  if (m.mapped != nullptr) {
    std::memcpy(static_cast<uint8_t*>(m.mapped) + offset, src, n);
    return OkStatus();
  }
  const auto* p = static_cast<const uint8_t*>(src);
  for (size_t done = 0; done < n;) {
    const size_t chunk = std::min<size_t>(n - done, staging_.size);
    std::memcpy(staging_.mapped, p + done, chunk);
    const VkBufferCopy region{0, offset + done, chunk};
    G12_RETURN_IF_ERROR(run_commands([&](VkCommandBuffer cmd) { vkCmdCopyBuffer(cmd, staging_.buffer, m.buffer, 1, &region); }));
    done += chunk;
  }
  return OkStatus();
}

Status Context::read(const Memory& m, VkDeviceSize offset, void* dst, size_t n) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  G12_RETURN_IF_ERROR(flush_streams());
  if (m.mapped != nullptr) {
    std::memcpy(dst, static_cast<const uint8_t*>(m.mapped) + offset, n);
    return OkStatus();
  }
  auto* p = static_cast<uint8_t*>(dst);
  for (size_t done = 0; done < n;) {
    const size_t chunk = std::min<size_t>(n - done, staging_.size);
    const VkBufferCopy region{offset + done, 0, chunk};
    G12_RETURN_IF_ERROR(run_commands([&](VkCommandBuffer cmd) { vkCmdCopyBuffer(cmd, m.buffer, staging_.buffer, 1, &region); }));
    std::memcpy(p + done, staging_.mapped, chunk);
    done += chunk;
  }
  return OkStatus();
}

Status Context::copy(const Memory& src, VkDeviceSize src_off, Memory& dst, VkDeviceSize dst_off, size_t n) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  G12_RETURN_IF_ERROR(flush_streams());
  if (n == 0) return OkStatus();
  const VkBufferCopy region{src_off, dst_off, n};
  return run_commands([&](VkCommandBuffer cmd) { vkCmdCopyBuffer(cmd, src.buffer, dst.buffer, 1, &region); });
}

StatusOr<VkPipeline> Context::pipeline(const std::string& shader) {
  auto it = pipelines_.find(shader);
  if (it != pipelines_.end()) return it->second;
  const ShaderBlob* blob = find_shader(shader);
  if (blob == nullptr) return Internal("vulkan: no embedded shader '%s'", shader);
  VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  smci.codeSize = blob->bytes;
  smci.pCode = blob->code;
  VkShaderModule module;
  VK_TRY(vkCreateShaderModule(device, &smci, nullptr, &module), "vkCreateShaderModule");
  VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  cpci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  cpci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  cpci.stage.module = module;
  cpci.stage.pName = "main";
  cpci.layout = pipeline_layout;
  VkPipeline p;
  const VkResult r = vkCreateComputePipelines(device, cache_, 1, &cpci, nullptr, &p);
  vkDestroyShaderModule(device, module, nullptr);
  G12_RETURN_IF_ERROR(vk_status(r, "vkCreateComputePipelines"));
  pipelines_.emplace(shader, p);
  return p;
}

std::string Context::take_validation_errors() {
  std::lock_guard<std::mutex> lock(validation_mu_);
  std::string out;
  out.swap(validation_errors_);
  return out;
}

}  // namespace gemma12b::vk
