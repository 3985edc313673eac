// The orchestration and activity every in-page entry registers.
export const hello = {
  orchestrators: {
    *E1_HelloSequence(ctx) {
      const outputs = [];
      for (const city of ['Tokyo', 'Seattle', 'London']) {
        outputs.push(yield ctx.callActivity('E1_SayHello', city));
        ctx.setCustomStatus(city);
      }
      return outputs;
    },
  },
  activities: { E1_SayHello: (name) => `Hello ${name}!` },
};
