// src/fcgi.ts: the mount module for runfcgi (app=dist/fcgi.js after `nest build`).
// The app as main.ts makes it, initialised instead of listening; runfcgi awaits the
// promise before the worker reports ready.
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';

async function create(): Promise<unknown> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule);
  // What main.ts sets up goes here too (pipes, body parser limits: Express's are 100 kB).
  app.useBodyParser('json', { limit: '10mb' });
  await app.init();
  return app.getHttpAdapter().getInstance();
}

export default create();
