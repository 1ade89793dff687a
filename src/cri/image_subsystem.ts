// The image service subsystem: PullImage, ListImages, ImageStatus, RemoveImage, ImageFsInfo,
// and the ImageLookup the container subsystem uses (`imageSubsystem(ctx).lookup`).

import { existsSync } from 'node:fs';
import type { ImageLookup } from '../image/api';
import { LayerDirs } from '../image/layer_store';
import { pinnedMatcher } from '../image/pinned';
import { Puller } from '../image/puller';
import { pullMetrics } from '../image/pull_metrics';
import { loadRegistriesConf } from '../image/registries_conf';
import { RegistryClient } from '../image/registry_client';
import { ImageService } from '../image/service';
import { TokenCache } from '../image/token_cache';
import { UnpackPool } from '../image/unpack_pool';
import { ImageStore } from '../store/image_store';
import type { Subsystem, SubsystemContext } from '../subsystem';
import { imageFsInfo } from './image_fs_info';
import { imageStatus } from './image_status';
import { listImages } from './list_images';
import { pullImage } from './pull_image';
import { removeImage } from './remove_image';

export interface ImageSubsystem extends Subsystem {
  lookup: ImageLookup;
  service: ImageService;
}

export function imageSubsystem(ctx: SubsystemContext): ImageSubsystem {
  const log = ctx.log.child({ subsystem: 'image' });
  if (!existsSync(ctx.config.registriesConf)) {
    // Not an error (pulls go to each image's own registry), but rarely what an operator meant.
    log.warn({ file: ctx.config.registriesConf }, 'registries.conf not found: no mirrors, no insecure registries');
  }
  const store = new ImageStore(ctx.db);
  const dirs = new LayerDirs(ctx.config.root);
  const puller = new Puller({
    dirs,
    store,
    client: new RegistryClient(new TokenCache(), log, (ctx.config.pullProgressTimeoutSeconds || 60) * 1000),
    // read per pull, so an edited registries.conf applies without a restart
    registriesConf: () => loadRegistriesConf(ctx.config.registriesConf),
    authFile: ctx.config.authFile,
    sys: ctx.sys,
    log,
    maxConcurrentDownloads: ctx.config.maxConcurrentDownloads || 4,
    progressTimeoutMs: (ctx.config.pullProgressTimeoutSeconds || 60) * 1000,
    metrics: pullMetrics(ctx.metrics),
    // one worker thread per core unpacks big layers, so layers unpack side by side
    unpacker: new UnpackPool(log),
  });
  const service = new ImageService(store, dirs, ctx.sys, log, () => puller.busyLayers.keys(), pinnedMatcher(ctx.config.pinnedImages ?? []));
  return {
    name: 'image',
    lookup: service,
    service,
    handlers: {
      PullImage: pullImage(puller, service),
      ListImages: listImages(service),
      ImageStatus: imageStatus(service),
      RemoveImage: removeImage(service),
      ImageFsInfo: imageFsInfo(service),
    },
    recover: async () => {
      await service.recover();
      service.layerUsage.start();
    },
    close: () => service.layerUsage.stop(),
  };
}
